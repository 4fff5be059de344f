"""The paper's other settings (K, V): certified bounds of the cubic family and a statistical accuracy
estimate per model, summarised per setting beside the paper's published ranges.

    python bench/settings_summary.py --root zoo/settings --models 4 [--settings 5x64,10x64,10x128,20x64]

Trains (resumably) the first ``--models`` seeds of ``zoo/seeds.txt`` for each setting with the zoo recipe
(``zoo train --k K --d-vocab V``, 3,000 steps), proves and checks ``cubic`` and ``cubic-ov-chord`` on each
model, and estimates its accuracy (``estimate``, 100,000 samples, confidence 0.999, seed 0). Prints one
row per setting: the estimate's interval (mean of the lower and upper limits), per strategy the mean and
range of the checker-VALID absolute bound, and the mean prove and check times per model, with the paper's
published cubic range and time per model (its data repository's per-K runs, as quoted in issue 13).
Absolute bounds, so the estimate is context, not a divisor: nothing statistical enters a bound.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import compact_proofs as cp
from prover.report_summary import PAPER_CUBIC
from prover.training import train_zoo
from prover.zoo_cli import read_seeds_file

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("cubic", "cubic-ov-chord")


def setting(text: str) -> tuple[int, int]:
    k, v = text.lower().split("x")
    return int(k), int(v)


def measure(path: Path) -> dict[str, tuple[float, float, float]]:
    """Per strategy (bound, prove seconds, check seconds), and the estimate's (lower, upper, seconds)."""
    model = cp.load_model(path)
    rows = {}
    for name in STRATEGIES:
        start = time.perf_counter()
        certificate = cp.prove(model, name, torch.device("cpu"))
        proved = time.perf_counter() - start
        verdict = cp.check(certificate, cp.load_model(path))  # a fresh model: the check pays for its tables
        assert verdict.status == cp.VALID, verdict.message
        rows[name] = (float(verdict.bound), proved, verdict.seconds)
    result = cp.estimate(model, 100_000, 0.999, seed=0, progress_bar=False)
    rows["estimate"] = (result.lower, result.upper, result.seconds)
    return rows


def summary(k: int, vocab: int, measured: list[dict[str, tuple[float, float, float]]]) -> str:
    lower = statistics.fmean(row["estimate"][0] for row in measured)
    upper = statistics.fmean(row["estimate"][1] for row in measured)
    cells = [f"K={k} V={vocab}", str(len(measured)), f"[{lower:.4f}, {upper:.4f}]"]
    for name in STRATEGIES:
        bounds = [row[name][0] for row in measured]
        prove = statistics.fmean(row[name][1] for row in measured)
        check = statistics.fmean(row[name][2] for row in measured)
        cells.append(f"{statistics.fmean(bounds):.3f} ({min(bounds):.3f} to {max(bounds):.3f}); "
                     f"{prove:.1f} s + {check:.1f} s")
    published = PAPER_CUBIC.get((k, vocab))
    cells.append("no published result" if published is None else ", ".join(published))
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("zoo/settings"))
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--settings", default="5x64,10x64,10x128,20x64")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = ["| setting | models | estimated accuracy (mean limits, 0.999) | cubic: bound mean (range); prove + "
             "check per model | cubic-ov-chord: the same | paper's cubic: range, time per model |",
             "| --- | --- | --- | --- | --- | --- |"]
    for text in args.settings.split(","):
        k, vocab = setting(text)
        directory = args.root / f"max{k}-v{vocab}"
        start = time.perf_counter()
        seeds = read_seeds_file(ROOT / "zoo" / "seeds.txt")[: args.models]
        paths = train_zoo(seeds, directory, k=k, d_vocab=vocab, progress=False)
        print(f"K={k} V={vocab}: {len(paths)} models trained or found in {time.perf_counter() - start:.0f} s",
              flush=True)
        measured = []
        for path in paths:
            measured.append(measure(path))
            print(f"  {path.name}: " + ", ".join(f"{name} {values[0]:.4f}" for name, values in measured[-1].items()),
                  flush=True)
        lines.append(summary(k, vocab, measured))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
