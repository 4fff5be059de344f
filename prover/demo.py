"""The main job: prove and check every implemented strategy on one model and print a table.

Every row's bound comes from the independent checker (only VALID certificates count); the relative
bound divides by the brute-force accuracy, which is the model's exact accuracy up to ties.
"""

from __future__ import annotations

from pathlib import Path

import torch

import compact_proofs as cp
from prover.progress import progress
from prover.report import StrategyRun, prove_and_check
from prover.strategies import StrategyInfo

# The best member of each family on the zoo (report/table.md); `zoo demo --strategy all` runs all 103.
DEFAULT_STRATEGIES = (
    "brute-force",
    "cubic",
    "cubic-ov-chord",
    "subcubic/EUPU=max-diff-exact,attn=mean-query+diff,attn-err=exact",
    "subcubic/EUPU=max-diff-exact,attn=mean-query+diff,attn-err=max-diff-subproduct",
    "subcubic/EUPU=mean-query+max-diff,attn=mean-query+diff,attn-err=exact",
    "subcubic/EUPU=mean-query+max-diff,attn=mean-query+diff,attn-err=max-diff-subproduct",
    "subcubic/EUPU=max-diff-exact,attn=mean-query+diff,attn-err=max-diff-subproduct-recursive",
    "subcubic/EUPU=mean-query+max-diff,attn=mean-query+diff,attn-err=max-diff-subproduct-recursive",
)


def run_demo(model_path: Path, out_dir: Path, chosen: list[StrategyInfo], device: torch.device) -> list[StrategyRun]:
    """Prove each strategy of ``chosen``, write its certificate under ``out_dir`` and check it (the checker's
    exact tables of the model are computed once for all of them)."""
    model = cp.load_model(model_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        prove_and_check(model, strategy, out_dir / cp.certificate_filename(strategy.name), device)
        for strategy in progress(chosen, desc="strategies")
    ]


def best_per_family(rows: list[StrategyRun]) -> list[StrategyRun]:
    """The row with the highest VALID bound in each family (families in first-seen order)."""
    best: dict[str, StrategyRun] = {}
    for row in rows:
        current = best.get(row.family)
        if current is None or (row.bound or -1.0) > (current.bound or -1.0):
            best[row.family] = row
    return list(best.values())


def format_table(rows: list[StrategyRun], true_accuracy: float | None) -> str:
    """A fixed-width table: strategy, verdict, bound, bound / true accuracy, FLOPs, prove s, check s."""
    header = ("strategy", "verdict", "bound", "bound/acc", "FLOPs", "prove s", "check s")
    lines = []
    for row in rows:
        bound = row.bound
        relative = "-" if bound is None or not true_accuracy else f"{bound / true_accuracy:.4f}"
        lines.append((
            row.strategy, row.verdict.status, "-" if bound is None else f"{bound:.6f}", relative,
            f"{row.verdict.flops:.3e}", f"{row.prove_seconds:.2f}", f"{row.verdict.seconds:.2f}",
        ))
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=False)]
    render = ["  ".join(f"{cell:<{w}}" for cell, w in zip(line, widths, strict=True)) for line in [header, *lines]]
    render.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(render)


def format_report(rows: list[StrategyRun]) -> str:
    """The demo table, relative to the brute-force accuracy when brute force is among the rows."""
    brute = next((row for row in rows if row.strategy == "brute-force" and row.bound is not None), None)
    true_accuracy = None if brute is None else brute.bound
    model = rows[0].verdict.model if rows else "?"
    return f"model: {model}\n" + format_table(rows, true_accuracy)
