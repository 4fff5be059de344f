"""Zoo-wide soundness evidence: every sequence a zoo report's certificates cover is proven correct.

``zoo report`` compares counts only (no strategy certifies more inputs than brute force). This script asks
the stronger question on every model of a finished report: for the certificates whose trace names the
sequences they cover (``cubic``, ``cubic-ov-chord`` and, by default, the best ``subcubic/...`` member of
each family; all of them with ``--all``), it re-checks the certificate, enumerates its covered sequences
(:mod:`tests.coverage`, independent of the checker's counting formulas) and asserts that

* every covered sequence is in the checker's rigorous brute-force set (a sound lower bound of the
  correct set, exact up to exact ties), and
* the number of covered sequences equals the count the checker certified.

It prints one line per model and the totals; exit status 1 if any certificate fails either test.

    python bench/zoo_coverage.py [--report report] [--models zoo/models] [--jobs 2] [--subset N] [--all]
"""

from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from certificates.codec import read_certificate
from certificates.model_file import load_model
from checker.strategies.brute_force import certified_sequences
from checker.tables import Tables
from checker.verify import max_trace_elements, verify
from compact_proofs import certificate_filename
from prover.report import BRUTE_FORCE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the coverage oracle lives with the tests
from tests.coverage import covered_sequences  # noqa: E402


@dataclass
class ModelCoverage:
    """What was checked on one model, and any failure (empty when every certificate passed)."""

    model: str
    certificates: int
    covered: int
    failures: list[str]


def chosen_strategies(rows: list[dict[str, str]], every: bool) -> list[str]:
    """The strategies to check on one model: both cubic strategies and each family's best member (all
    non-brute-force strategies with ``every``)."""
    candidates = [row for row in rows if row["strategy"] != BRUTE_FORCE]
    if every:
        return [row["strategy"] for row in candidates]
    best: dict[str, dict[str, str]] = {}
    for row in candidates:
        key = row["strategy"] if row["strategy"].startswith("cubic") else row["family"]
        if key not in best or int(row["certified_count"]) > int(best[key]["certified_count"]):
            best[key] = row
    return [row["strategy"] for row in best.values()]


def check_model(model_path: Path, cert_dir: Path, names: list[str]) -> ModelCoverage:
    """Coverage of ``names``' certificates in ``cert_dir`` against the brute-force set of ``model_path``."""
    weights = load_model(model_path)
    correct = certified_sequences(Tables(weights))
    result = ModelCoverage(model_path.stem, 0, 0, [])
    for name in names:
        path = cert_dir / certificate_filename(name)
        verdict = verify(path, model_path)
        if verdict.status != "VALID":
            result.failures.append(f"{name}: {verdict.status} {verdict.message}")
            continue
        certificate = read_certificate(path, max_array_elements=max_trace_elements(weights))
        covered = covered_sequences(certificate, weights)
        if covered is None:
            result.failures.append(f"{name}: its trace does not name the covered sequences")
            continue
        wrong = covered & ~correct
        count = int(covered.sum())
        result.certificates += 1
        result.covered += count
        if wrong.any():
            result.failures.append(f"{name}: covers {int(wrong.sum())} sequences brute force does not certify, "
                                   f"e.g. {np.argwhere(wrong)[0].tolist()}")
        if count != verdict.certified_count:
            result.failures.append(f"{name}: covers {count} sequences, the checker certified {verdict.certified_count}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=ROOT / "report", help="report directory (results.csv, certs/)")
    parser.add_argument("--models", type=Path, default=ROOT / "zoo" / "models")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--subset", type=int, help="only the first N models of results.csv")
    parser.add_argument("--all", action="store_true", help="every strategy, not only the best of each family")
    args = parser.parse_args(argv)

    with open(args.report / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_model: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    models = list(by_model)[: args.subset]

    totals = ModelCoverage("all", 0, 0, [])
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(check_model, args.models / f"{model}.safetensors", args.report / "certs" / model,
                        chosen_strategies(by_model[model], args.all))
            for model in models
        ]
        for future in futures:
            result = future.result()
            print(f"{result.model:28s} {result.certificates:4d} certificates  {result.covered:12d} covered sequences"
                  f"  {'OK' if not result.failures else 'FAILED'}", flush=True)
            for failure in result.failures:
                print(f"    {failure}", flush=True)
            totals.certificates += result.certificates
            totals.covered += result.covered
            totals.failures += result.failures
    print(f"{len(models)} models, {totals.certificates} certificates, {totals.covered} covered sequences checked "
          f"against brute force; failures: {len(totals.failures)}")
    return 1 if totals.failures else 0


if __name__ == "__main__":
    sys.exit(main())
