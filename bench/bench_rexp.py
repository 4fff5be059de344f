"""The checker's proven exp kernel (both endpoints) versus numpy's exp, measured in one run on one batch.

The batch is what a brute-force check exponentiates at V = 64, n = 4: 16,384 scores (here uniform in
[-40, 5]). Prints the best of N seconds for ``rexp.exp_lower`` + ``rexp.exp_upper`` and for ``np.exp``
(one endpoint: numpy gives no enclosure), and their ratio. This replaces a wall-clock assertion that
used to sit in the unit tests (tests/test_rexp.py), where machine load made it meaningless.

    python bench/bench_rexp.py [--size 16384] [--repeats 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from checker.kernel import rexp


def best_seconds(function, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``function``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384, help="scores per batch")
    parser.add_argument("--repeats", type=int, default=20, help="best of N for each timing")
    args = parser.parse_args()
    scores = np.random.default_rng(0).uniform(-40.0, 5.0, args.size)
    ours = best_seconds(lambda: (rexp.exp_lower(scores), rexp.exp_upper(scores)), args.repeats)
    numpy = best_seconds(lambda: np.exp(scores), args.repeats)
    print(f"{args.size} scores, best of {args.repeats}: rexp (both endpoints) {ours * 1e3:.3f} ms, "
          f"np.exp {numpy * 1e3:.3f} ms, ratio {ours / numpy:.1f}")


if __name__ == "__main__":
    main()
