"""The subcubic family on zoo models: prove and check all 100 configurations, time them, compare FLOPs.

For each model: every ``subcubic/...`` strategy is proved (CPU) and its certificate checked; the report
gives the total prove and check seconds, the slowest configuration, the largest checker FLOP count of
each family beside the cubic proof's, and the best bound of each family relative to the model's
accuracy (the checker's rigorous brute force, exact up to exact ties), with the published ``(m - g)``
counting beside ours. Check seconds are measured in one process, where :func:`checker.verify.verify`
reuses the exact tables after the first certificate; a cold ``check`` adds about 0.2 s for them.
Over several models it prints the paper's figure: the mean +- standard deviation over models of each
family's best relative bound.

    python bench/bench_subcubic.py [MODEL ...] [--jobs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from certificates.codec import Certificate
from certificates.model_file import load_model
from checker.strategies.brute_force import certified_sequences
from checker.tables import Tables
from checker.verify import verify
from prover import strategies
from prover.certify import prove
from prover.report_figures import PAPER
from prover.writers import write_certificate

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "max4-v64-d32-seed123.safetensors"


def published_count(certificate: Certificate) -> int:
    """The certificate's covered count with the published counting ``(m - g)^j`` instead of ``(m - g + 1)^j``."""
    arrays = next((step.arrays for step in certificate.trace if step.step == "gaps"), None)
    if arrays is None:
        return certificate.claim_correct
    q, m, c = np.nonzero(arrays["good"])
    slots = c - (q != m)
    choices = m - arrays["gap"][q, m, c]
    n_ctx = arrays["good"].shape[2]
    return sum(math.comb(n_ctx - 1, int(j)) * int(k) ** int(j) for j, k in zip(slots, choices, strict=True))


def run_model(model_path: Path) -> dict:
    """Prove and check every subcubic configuration and the cubic proof of one model."""
    torch.set_num_threads(1)
    weights = load_model(model_path)
    total = weights.d_vocab**weights.n_ctx
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for strategy in [s for s in strategies.all_strategies() if s.name.startswith("subcubic/")] + [
            strategies.lookup("cubic")
        ]:
            certificate, prove_seconds = prove(weights, strategy, torch.device("cpu"))
            path = Path(tmp) / "proof.cert"
            write_certificate(path, certificate)
            verdict = verify(path, model_path)
            rows.append({
                "name": strategy.name, "family": strategy.family, "status": verdict.status,
                "bound": certificate.claim_correct / total,
                "published_count_bound": published_count(certificate) / total,
                "prove_s": prove_seconds, "check_s": verdict.seconds,
                "flops": verdict.flops, "message": verdict.message,
            })
    start = time.perf_counter()
    accuracy = float(certified_sequences(Tables(weights)).mean())
    return {"model": model_path.name, "accuracy": accuracy, "brute_force_s": time.perf_counter() - start, "rows": rows}


def report(result: dict) -> dict[str, float]:
    """Print one model's figures; return each family's best relative bound."""
    rows = [row for row in result["rows"] if row["name"].startswith("subcubic/")]
    cubic = next(row for row in result["rows"] if row["name"] == "cubic")
    invalid = [row for row in result["rows"] if row["status"] != "VALID"]
    slowest = max(rows, key=lambda row: row["prove_s"] + row["check_s"])
    print(f"\n{result['model']}: accuracy {result['accuracy']:.6f}; {len(rows)} subcubic configurations, "
          f"{len(invalid)} not VALID {[row['name'] for row in invalid]}")
    prove_total, check_total = sum(r["prove_s"] for r in rows), sum(r["check_s"] for r in rows)
    print(f"  total prove {prove_total:.1f} s, total check {check_total:.1f} s; slowest {slowest['name']}: "
          f"prove {slowest['prove_s']:.2f} s + check {slowest['check_s']:.2f} s")
    best = {}
    print(f"  {'family':<50} {'best bound/acc':>14} {'(m-g) count':>11} {'max FLOPs':>10}  (cubic: "
          f"{cubic['flops']:.3g} FLOPs, bound/acc {cubic['bound'] / result['accuracy']:.4f})")
    for family in sorted({row["family"] for row in rows}):
        members = [row for row in rows if row["family"] == family]
        top = max(members, key=lambda row: row["bound"])
        best[family] = top["bound"] / result["accuracy"]
        published = top["published_count_bound"] / result["accuracy"]
        print(f"  {family:<50} {best[family]:>14.4f} {published:>11.4f} {max(r['flops'] for r in members):>10.3g}"
              f"  best: {top['name']}")
    assert not any(row["bound"] > result["accuracy"] for row in rows), "a bound exceeds the accuracy"
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL])
    parser.add_argument("--jobs", type=int, default=1, help="models proved in parallel (one thread each)")
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_model, args.models))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    per_model = [report(result) for result in results]
    print(f"\nper family, mean +- sd over {len(per_model)} model(s) of the best member's bound / accuracy:")
    for family in sorted(per_model[0]):
        values = [best[family] for best in per_model]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"  {family:<50} {statistics.mean(values):.3f} +- {spread:.3f}   paper: {PAPER.get(family, '-')}")


if __name__ == "__main__":
    main()
