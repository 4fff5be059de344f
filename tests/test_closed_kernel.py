"""The kernel is closed: outside ``checker/kernel/`` no checker code creates an interval from endpoints,
reads an endpoint, rounds, or charges FLOPs (issue 12). A strategy composes kernel operations and reads
intervals only through the certified predicates, so the proof length is what the kernel executed and no
replay can contain a second, unchecked arithmetic.

The rules are checked on the syntax tree of every module of ``checker/`` outside the kernel; the pipeline
module ``checker/verify.py`` may open a counter (``flops.counting``) and read the cost-model version, and
nothing else of :mod:`checker.kernel.flops`. Each rule is shown to fire on a small violating source.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHECKER = Path(__file__).resolve().parent.parent / "checker"
KERNEL = CHECKER / "kernel"
KERNEL_TYPES = {"Interval", "LowerBound", "ExactMatrix"}
ENDPOINTS = {"lo", "hi", "ints", "exponent"}
PRIVATE_MODULES = {"checker.kernel.rounding", "checker.kernel.rexp"}
PRIVATE_NAMES = {"down", "up", "sum_error_bound", "gamma_upper", "PHI", "ETA", "charge", "charge_once",
                 "charge_bookkeeping", "exp_lower", "exp_upper"}
RAW_FLOAT_FUNCTIONS = {"nextafter", "exp", "expm1", "log", "log1p", "sqrt", "power", "float_power", "ldexp", "fsum"}
FLOAT_LIBRARIES = {"np", "numpy", "math"}
PIPELINE_FLOPS = {"counting", "COST_MODEL_VERSION"}


def violations(source: str, *, pipeline: bool = False) -> list[str]:
    """Every breach of the closed-kernel rules in ``source`` (module docstring), as "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id in KERNEL_TYPES:
                found.append(f"{line}: constructs {function.id}(...) from raw parts")
            if (isinstance(function, ast.Attribute) and function.attr in RAW_FLOAT_FUNCTIONS
                    and isinstance(function.value, ast.Name) and function.value.id in FLOAT_LIBRARIES):
                found.append(f"{line}: raw float arithmetic {ast.unparse(function)}(...)")
        if isinstance(node, ast.Attribute):
            if node.attr in ENDPOINTS:
                found.append(f"{line}: reads the endpoint or internals .{node.attr}")
            if node.attr in PRIVATE_NAMES:
                found.append(f"{line}: uses the kernel's {node.attr}")
            if isinstance(node.value, ast.Name) and node.value.id == "flops":
                allowed = PIPELINE_FLOPS if pipeline else set()
                if node.attr not in allowed:
                    found.append(f"{line}: uses flops.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module in PRIVATE_MODULES:
                found.append(f"{line}: imports the kernel-private module {node.module}")
            if names & PRIVATE_NAMES:
                found.append(f"{line}: imports {sorted(names & PRIVATE_NAMES)}")
            if node.module == "checker.kernel.flops" and not (pipeline and names <= PIPELINE_FLOPS):
                found.append(f"{line}: imports {sorted(names)} from the FLOP counter")
            if node.module == "checker.kernel" and "flops" in names and not pipeline:
                found.append(f"{line}: imports the FLOP counter")
        if isinstance(node, ast.Import) and any(alias.name in PRIVATE_MODULES for alias in node.names):
            found.append(f"{line}: imports a kernel-private module")
    return found


def checker_modules() -> list[Path]:
    """Every module of the checker outside its kernel."""
    return sorted(path for path in CHECKER.rglob("*.py") if KERNEL not in path.parents)


@pytest.mark.parametrize("path", checker_modules(), ids=lambda path: str(path.relative_to(CHECKER)))
def test_no_checker_module_outside_the_kernel_breaks_the_rules(path):
    found = violations(path.read_text(), pipeline=path.name in ("verify.py", "cli.py"))
    assert not found, f"{path.relative_to(CHECKER)}: " + "; ".join(found)


def test_the_rules_cover_every_strategy_module():
    names = {path.name for path in checker_modules()}
    assert {"brute_force.py", "cubic.py", "cubic_bounds.py", "subcubic_eqke.py", "tables.py"} <= names


@pytest.mark.parametrize(("source", "what"), [
    ("x = Interval(a, b)", "constructs Interval"),
    ("x = LowerBound(a)", "constructs LowerBound"),
    ("y = table.lo + 1", "endpoint"),
    ("y = table.hi", "endpoint"),
    ("y = matrix.ints * 2", "internals"),
    ("flops.charge(10)", "flops.charge"),
    ("from checker.kernel.flops import charge", "charge"),
    ("from checker.kernel.rounding import down", "kernel-private"),
    ("from checker.kernel import flops", "FLOP counter"),
    ("z = np.nextafter(a, b)", "raw float"),
    ("z = np.exp(a)", "raw float"),
    ("z = math.sqrt(a)", "raw float"),
    ("from checker.kernel.rexp import exp_lower", "kernel-private"),
], ids=lambda value: value if len(value) < 30 else value[:30])
def test_each_rule_fires_on_a_violation(source, what):
    found = violations(source)
    assert any(what in finding for finding in found), found


def test_kernel_operations_are_not_raw_arithmetic():
    assert not violations("y = (scores - shift).exp()\nz = x.sqrt()\nw = Interval.exact(v).row_range()")


def test_the_pipeline_may_count_but_not_charge():
    assert not violations("from checker.kernel import flops\nwith flops.counting():\n    pass", pipeline=True)
    assert violations("from checker.kernel import flops\nflops.charge(1)", pipeline=True)
