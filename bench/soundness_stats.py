"""Soundness evidence: run the trust suite under a hypothesis profile and total what it checked.

Runs pytest on the soundness-fuzzing and hostile-certificate suites with ``HYPOTHESIS_PROFILE`` (default
``long``) and ``SOUNDNESS_STATS`` pointing at a fresh JSON-lines file (one line per test example, see
``tests/trust.py``), then prints the totals: models generated, certificates checked, mutations tried,
over-claims found (must be 0), prover declines and failures, and pytest's failures and summary (its whole
output is kept next to the counters, with suffix ``.log``). The counters of a run cut short by
``--timeout`` are still totalled (every example writes its line as it finishes).

    python bench/soundness_stats.py [--profile long] [--timeout 2400] [--stats out/soundness.jsonl] [--json]
        [--jobs N | --scheduler ADDRESS] [--repeat R]

On the execution layer (:mod:`prover.execution`; ``--jobs N`` local Dask workers or ``--scheduler`` a
running cluster whose workers share this checkout's path), every test of the suites is one task, run
``--repeat`` times with distinct hypothesis seeds (a campaign of R times the examples; under the "ci"
profile, which is derandomized, repeats give the same examples); ``--timeout`` then bounds each task.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from prover.execution import SCHEDULER_ENV, open_executor

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("tests/test_soundness.py", "tests/test_hostile_certificates.py")
HEADLINE = ("models", "certificates", "mutations", "covered_checked", "over_claims", "prover_declined",
            "prover_failures", "refuted_prover_claims", "tied_sequences", "cli_runs", "cli_certificates")


def totals(stats_path: Path) -> tuple[Counter, dict[str, Counter]]:
    """The counters summed over every line, overall and per test."""
    overall: Counter = Counter()
    per_test: dict[str, Counter] = {}
    if stats_path.exists():
        for line in stats_path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            test = entry.pop("test")
            overall.update(entry)
            per_test.setdefault(test, Counter()).update(entry)
    return overall, per_test


def run_suites(
    profile: str, timeout: float, stats_path: Path, extra: list[str], suites: tuple[str, ...] = SUITES
) -> tuple[list[str], float]:
    """Run the suites, keeping pytest's output next to the counters (``.log``); returns pytest's failure
    lines and summary line (or why it stopped) and the wall seconds."""
    environment = dict(os.environ, HYPOTHESIS_PROFILE=profile, SOUNDNESS_STATS=str(stats_path))
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "ignore", "-rfE", *suites, *extra]
    log_path = stats_path.with_suffix(".log")
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            subprocess.run(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, check=False)
            stopped = None
        except subprocess.TimeoutExpired:
            stopped = f"stopped by the {timeout:.0f} s timeout (counters cover the examples that finished)"
    lines = [line for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    outcome = [line for line in lines if line.startswith(("FAILED", "ERROR "))]
    outcome.append(stopped or (lines[-1] if lines else "no output"))
    return outcome, time.perf_counter() - start


def collect(extra: list[str]) -> list[str]:
    """The test ids of the suites (``path::test[params]``), as pytest collects them; SystemExit if pytest
    cannot collect them or collects none (a campaign of no tests proves nothing)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *SUITES, *extra]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    tests = [line.strip() for line in listed.stdout.splitlines() if "::" in line]
    if listed.returncode != 0 or not tests:
        raise SystemExit(f"pytest collected no tests (exit {listed.returncode}): {listed.stdout[-500:]}")
    return tests


def run_test(test: str, seed: int, profile: str, timeout: float, extra: list[str]) -> tuple[list[str], str]:
    """One task: ``test`` under ``profile`` with hypothesis seed ``seed``; its failure and summary lines and
    the counters it wrote (JSON lines)."""
    with tempfile.TemporaryDirectory(prefix="soundness-task-") as scratch:
        stats_path = Path(scratch) / "stats.jsonl"
        outcome, _ = run_suites(profile, timeout, stats_path, [test, f"--hypothesis-seed={seed}", *extra], suites=())
        stats = stats_path.read_text(encoding="utf-8") if stats_path.exists() else ""
    return [f"[{test} seed {seed}] {line}" for line in outcome], stats


def run_distributed(args: argparse.Namespace, stats_path: Path) -> tuple[list[str], float]:
    """Every collected test, ``args.repeat`` times, as tasks of the execution layer; counters appended to
    ``stats_path`` as the tasks finish."""
    start = time.perf_counter()
    tests = collect(args.pytest_args)
    tasks = [(test, seed, args.profile, args.timeout, args.pytest_args)
             for seed in range(args.repeat) for test in tests]
    outcome: list[str] = []
    with open_executor(args.jobs, args.scheduler) as executor, stats_path.open("a", encoding="utf-8") as stats:
        for _, (lines, counters) in executor.map_unordered(run_test, tasks, desc="trust-suite tasks"):
            outcome.extend(
                line for line in lines if line.split("] ", 1)[1].startswith(("FAILED", "ERROR ", "stopped by"))
            )
            stats.write(counters)
    outcome.append(f"{len(tasks)} tasks ({len(tests)} tests x {args.repeat} seeds) on {executor.description}")
    stats_path.with_suffix(".log").write_text("\n".join(outcome) + "\n", encoding="utf-8")
    return outcome, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="long", help="hypothesis profile (tests/conftest.py)")
    parser.add_argument("--timeout", type=float, default=2400.0, help="seconds before pytest is stopped")
    parser.add_argument("--stats", type=Path, help="keep the per-example counters here (JSON lines)")
    parser.add_argument("--json", action="store_true", help="print the totals as one JSON object")
    parser.add_argument("--jobs", type=int, default=1, help="local Dask workers (default 1: one pytest here)")
    parser.add_argument("--scheduler", help="a running Dask scheduler (default $COMPACT_PROOFS_SCHEDULER)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each test, with hypothesis seeds 0..R-1")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    args = parser.parse_args(argv)
    distributed = args.jobs > 1 or args.repeat > 1 or args.scheduler or os.environ.get(SCHEDULER_ENV)
    stats_path = args.stats or Path(tempfile.mkstemp(suffix=".jsonl", prefix="soundness-")[1])
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    stats_path.write_text("", encoding="utf-8")
    if distributed:
        outcome, seconds = run_distributed(args, stats_path)
    else:
        outcome, seconds = run_suites(args.profile, args.timeout, stats_path, args.pytest_args)
    overall, per_test = totals(stats_path)
    if args.json:
        print(json.dumps({"profile": args.profile, "seconds": round(seconds), "pytest": outcome,
                          "totals": dict(overall), "per_test": {k: dict(v) for k, v in per_test.items()}}))
    else:
        print(f"profile {args.profile}, {seconds:.0f} s; pytest:")
        for line in outcome:
            print(f"  {line}")
        for key in HEADLINE:
            print(f"  {key:24s} {overall.get(key, 0):>10,d}")
        for test, counts in sorted(per_test.items()):
            print(f"  [{test}] " + ", ".join(f"{key} {value:,d}" for key, value in sorted(counts.items())))
        print(f"counters: {stats_path}; pytest output: {stats_path.with_suffix('.log')}")
    failed = any(line.split("] ", 1)[-1].startswith(("FAILED", "ERROR ", "stopped by")) for line in outcome)
    return 1 if overall.get("over_claims", 0) or failed else 0


if __name__ == "__main__":
    sys.exit(main())
