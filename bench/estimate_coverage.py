"""How often the estimate's interval misses a known exact accuracy (SPEC 8 validation).

    python bench/estimate_coverage.py --samples 100000 --seeds 10 --confidence 0.999

For each shipped model (whose exact accuracy is the brute-force count of docs/RESULTS.md, read here from
``report/results.csv``), runs ``estimate`` with seeds ``0..seeds-1`` and prints each interval, the misses
(exact accuracy outside the interval) and the number of misses the confidence level predicts.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import compact_proofs as cp
from compact_proofs.estimating import estimate

ROOT = Path(__file__).resolve().parent.parent


def exact_counts() -> dict[str, int]:
    """Brute-force certified counts per model stem from the committed report (exact on the shipped models:
    no sequence within 1e-9 of a tie)."""
    with open(ROOT / "report" / "results.csv", newline="") as handle:
        return {row["model"]: int(row["certified_count"]) for row in csv.DictReader(handle)
                if row["strategy"] == "brute-force" and row["verdict"] == "VALID"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--confidence", type=float, default=0.999)
    args = parser.parse_args()
    counts = exact_counts()
    intervals = misses = 0
    for path in sorted((ROOT / "models").glob("max4-*.safetensors")):
        model = cp.load_model(path)
        exact = counts[path.stem] / model.weights.d_vocab**model.weights.n_ctx
        for seed in range(args.seeds):
            result = estimate(model, args.samples, args.confidence, seed, progress_bar=False)
            inside = result.lower <= exact <= result.upper
            intervals, misses = intervals + 1, misses + (not inside)
            print(f"{path.stem} seed {seed}: [{result.lower:.6f}, {result.upper:.6f}] exact {exact:.6f} "
                  f"{'inside' if inside else 'MISS'} ({result.undecided} undecided, {result.seconds:.1f} s)")
    print(f"{misses} misses in {intervals} intervals at confidence {args.confidence} "
          f"(expected {intervals * (1 - args.confidence):.2f})")


if __name__ == "__main__":
    main()
