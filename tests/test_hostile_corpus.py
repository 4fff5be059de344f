"""Every case of the hostile-input corpus (:mod:`tests.hostile_corpus`) in its own ``check`` process.

Each process runs under an address-space limit (RLIMIT_AS) and a generous CPU-time cap (RLIMIT_CPU): a
hang or a memory blow-up shows up as a failing test (killed by a signal, or a MemoryError turned into a
verdict it should not have), not as a hung CI. This is a hang detector, not a timing assertion. Every
answer must be one of the case's allowed verdicts (never exit 3, never a signal), an ERROR is exactly one
line on stderr, and stdout is exactly one escaped line.
"""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from tests.cli_runner import ROOT
from tests.hostile_corpus import BUILDERS, ERROR, VALID, build_cases

ADDRESS_SPACE_BYTES = 2 << 30
CPU_SECONDS = 60


def _limit_resources() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def run_limited(args: tuple[str, ...]) -> subprocess.CompletedProcess:
    """``check ARGS`` under the corpus's resource limits (the wall-clock timeout is a last resort)."""
    return subprocess.run(
        [sys.executable, "-m", "checker.cli", *args], capture_output=True, text=True, cwd=ROOT,
        preexec_fn=_limit_resources, timeout=10 * CPU_SECONDS, check=False,
    )


@pytest.mark.parametrize("builder", list(BUILDERS))
def test_hostile_input_gets_a_verdict_within_limits(tmp_path, builder):
    for case in build_cases(builder, tmp_path):
        result = run_limited(case.args)
        where = (case.description, result.returncode, result.stdout, result.stderr)
        assert result.returncode in case.exits, where
        assert "Traceback" not in result.stderr, where
        assert len(result.stdout.splitlines()) == 1, where
        if result.returncode == ERROR:
            assert len(result.stderr.splitlines()) == 1, where
        if result.returncode == VALID:
            assert result.stdout.startswith("VALID ") and result.stderr == "", where
