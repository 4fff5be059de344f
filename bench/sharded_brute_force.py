"""The exact brute force in shards where a single run cannot go, beside the statistical estimate.

    python bench/sharded_brute_force.py MODEL [MODEL ...] [--root bench-shards] [--depth J] [--samples N]
        [--report report/settings/max5-v64/results.csv]

For each model: ``prove MODEL --shards DIR`` and ``check --shards DIR --model MODEL`` as a user runs
them (each in its own process: wall time and peak resident memory), a restarted ``prove`` on the
complete directory (every shard re-checked, none proved again), then ``estimate`` (N samples, confidence
0.999, seed 0). Prints one row per model: the certified accuracy, the estimate's interval and whether the
certified accuracy lies inside it. The certified accuracy is a lower bound of the exact one (equal to it
unless some sequence is too close to call); the estimate is a statistical statement about the exact one.
With ``--report``, also the largest VALID count of that zoo report's rows for the model, and whether it
is at most the brute force's certified count (no bound in the report exceeds the exact accuracy).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import compact_proofs as cp
from prover.shards import default_depth

CONFIDENCE = 0.999
_MEASURED = (
    "import resource, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_module(sys.argv[0], run_name='__main__')\n"
    "finally:\n"
    "    print(f'MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
)


def measured(module: str, *args: str) -> tuple[str, float, float]:
    """Run ``python -m module args`` in a subprocess: (stdout, wall seconds, peak resident GiB)."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED, module, *args], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    peak = [line for line in result.stderr.splitlines() if line.startswith("MAXRSS_KB")]
    return result.stdout, seconds, int(peak[-1].split()[1]) / 2**20


def report_counts(path: Path) -> dict[str, tuple[int, str]]:
    """Per model of a zoo report's results.csv: the largest certified count of its VALID rows, and the
    strategy that has it."""
    best: dict[str, tuple[int, str]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["verdict"] == cp.VALID:
                count = int(row["certified_count"])
                if count > best.get(row["model"], (-1, ""))[0]:
                    best[row["model"]] = (count, row["strategy"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--root", type=Path, default=Path("bench-shards"), help="one shard directory per model")
    parser.add_argument("--depth", type=int, help="shard depth (default: shards of at most 2^24 sequences)")
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--report", type=Path, help="a zoo report's results.csv whose bounds to compare")
    args = parser.parse_args()
    reported = report_counts(args.report) if args.report else {}
    print("| model | sequences | shards | prove | prove peak | check | check peak | re-check (restart) | "
          "certified accuracy | claimed = certified | FLOPs | estimate (0.999) | inside | "
          "best reported bound (<= exact) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in args.models:
        model = cp.load_model(path)
        weights = model.weights
        default = default_depth(weights.d_vocab, weights.n_ctx, weights.d_model, weights.d_head)
        depth = default if args.depth is None else args.depth
        directory = args.root / path.stem
        extra = ["--shard-depth", str(depth)]
        _, prove_seconds, prove_peak = measured("prover.prove_cli", str(path), "--shards", str(directory), *extra)
        out, check_seconds, check_peak = measured(
            "checker.cli", "--shards", str(directory), "--model", str(path), "--json"
        )
        verdict = json.loads(out)
        assert verdict["status"] == cp.VALID, verdict["message"]
        restart, restart_seconds, _ = measured("prover.prove_cli", str(path), "--shards", str(directory), *extra)
        assert " 0 proved" in restart, restart
        certified = verdict["claimed"] / verdict["total"]
        estimate = cp.estimate(model, args.samples, CONFIDENCE, seed=0, progress_bar=False)
        inside = estimate.lower <= certified <= estimate.upper
        best = reported.get(path.stem)
        compared = "-" if best is None else (
            f"{best[0] / verdict['total']:.6f} ({best[1]}: {'yes' if best[0] <= verdict['claimed'] else 'NO'})"
        )
        print(
            f"| {path.stem} | {verdict['total']:.3e} | {verdict['notes']['shards']} (depth {depth}) | "
            f"{prove_seconds:.0f} s | {prove_peak:.2f} GiB | {check_seconds:.0f} s | {check_peak:.2f} GiB | "
            f"{restart_seconds:.0f} s | {certified:.6f} | {verdict['claimed'] == verdict['certified_count']} | "
            f"{verdict['flops']:.3e} | "
            f"[{estimate.lower:.6f}, {estimate.upper:.6f}] | {'yes' if inside else 'NO'} | {compared} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
