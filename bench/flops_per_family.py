"""Median checker FLOPs (the proof length) per strategy family, measured, or read from earlier runs.

    python bench/flops_per_family.py models/*.safetensors --csv after.csv          # prove and check
    python bench/flops_per_family.py --from before=report/results.csv --from after=after.csv

The first form proves every registered strategy on each model (brute force only where V^n <= 2^24),
checks each certificate, and writes one row per (model, strategy) with the checker's FLOPs and certified
count. The second prints, per family, the median FLOPs over every member on every model of each
labelled CSV (``zoo report``'s results.csv has the same columns), and the ratio of the last label to
the first. Families are listed by the median of the last label, so the order can be read against the
complexity classes of ``prove --list-strategies``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import torch

from certificates.model_file import load_model
from checker.verify import VALID, check_bytes, read_model
from prover import strategies
from prover.certify import prove
from prover.progress import progress
from prover.writers import encode_certificate

FIELDS = ("model", "strategy", "family", "verdict", "certified_count", "checker_flops")
BRUTE_FORCE_LIMIT = 1 << 24


def measure(paths: list[Path]) -> list[dict[str, str]]:
    """Prove and check every strategy on every model (one row each)."""
    rows = []
    for path in paths:
        weights, checked = load_model(path), read_model(path)
        names = [s for s in strategies.all_strategies()
                 if s.name != "brute-force" or weights.d_vocab**weights.n_ctx <= BRUTE_FORCE_LIMIT]
        for strategy in progress(names, desc=path.stem):
            certificate, _ = prove(weights, strategy, torch.device("cpu"))
            verdict = check_bytes(encode_certificate(certificate), checked, name=strategy.name)
            rows.append({"model": path.stem, "strategy": strategy.name, "family": strategy.family,
                         "verdict": verdict.status, "certified_count": str(verdict.certified_count or 0),
                         "checker_flops": str(verdict.flops)})
    return rows


def medians(rows: list[dict[str, str]]) -> dict[str, float]:
    """Median checker FLOPs of the VALID rows of each family."""
    by_family: dict[str, list[int]] = {}
    for row in rows:
        if row["verdict"] == VALID:
            by_family.setdefault(row["family"], []).append(int(row["checker_flops"]))
    return {family: statistics.median(values) for family, values in by_family.items()}


def table(labelled: dict[str, dict[str, float]]) -> str:
    """A Markdown table: family, complexity class, the median of each label, last / first."""
    labels = list(labelled)
    classes = {s.family: s.complexity for s in strategies.all_strategies()}
    last = labelled[labels[-1]]
    families = sorted(last, key=last.get)
    header = ["family", "complexity class", *(f"median FLOPs ({label})" for label in labels)]
    if len(labels) > 1:
        header.append(f"{labels[-1]} / {labels[0]}")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for family in families:
        cells = [family, classes.get(family, "")]
        cells += [f"{labelled[label][family]:.3e}" if family in labelled[label] else "-" for label in labels]
        if len(labels) > 1:
            first = labelled[labels[0]].get(family)
            cells.append(f"{last[family] / first:.2f}" if first else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="model files to prove and check")
    parser.add_argument("--csv", type=Path, help="where to write the measured rows")
    parser.add_argument("--from", dest="sources", action="append", default=[], metavar="LABEL=CSV",
                        help="summarise an earlier run (repeatable)")
    args = parser.parse_args()
    labelled = {}
    for source in args.sources:
        label, _, path = source.partition("=")
        with open(path, newline="", encoding="utf-8") as stream:
            labelled[label] = medians(list(csv.DictReader(stream)))
    if args.models:
        rows = measure(args.models)
        if args.csv:
            with open(args.csv, "w", newline="", encoding="utf-8") as stream:
                writer = csv.DictWriter(stream, fieldnames=FIELDS)
                writer.writeheader()
                writer.writerows(rows)
        labelled["measured"] = medians(rows)
    if not labelled:
        parser.error("give model files or --from LABEL=CSV")
    print(table(labelled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
