"""The subcubic family on zoo models: prove and check all 100 configurations, time them, compare FLOPs.

For each model: every ``subcubic/...`` strategy is proved (CPU) and its certificate checked; the report
gives the total prove and check seconds, the slowest configuration, the largest checker FLOP count of
each family beside the cubic proof's, and the best bound of each family relative to the model's
accuracy (a float64 forward pass over all V^n sequences; exact ties are irrelevant at this size).
Over several models it prints the paper's figure: the mean +- standard deviation over models of each
family's best relative bound.

    python bench/bench_subcubic.py [MODEL ...] [--jobs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from certificates.codec import write_certificate
from certificates.model_file import load_model
from checker.verify import verify
from prover import strategies
from prover.certify import prove
from prover.model import AttentionOnlyTransformer
from prover.strategies.brute_force import sequence_tokens

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "max4-v64-d32-seed123.safetensors"
PAPER = {"subcubic": "0.833 +- 0.011", "attention-d_vocab d_model^2": "0.807 +- 0.013", "direct-quadratic": "0.663 +- 0.060"}


def forward_accuracy(model_path: Path, chunk: int = 1 << 16) -> float:
    """Fraction of sequences whose float64 logit of the max exceeds every other logit."""
    weights = load_model(model_path)
    model = AttentionOnlyTransformer.from_weights(weights, device="cpu", dtype=torch.float64)
    total = weights.d_vocab**weights.n_ctx
    correct = 0
    with torch.inference_mode():
        for first in range(0, total, chunk):
            tokens = sequence_tokens(torch.arange(first, min(first + chunk, total)), weights.d_vocab, weights.n_ctx)
            logits = model.last_logits(tokens)
            label = tokens.max(dim=1).values
            right = logits.gather(1, label[:, None])[:, 0]
            wrong = logits.scatter(1, label[:, None], -torch.inf).amax(dim=1)
            correct += int((right > wrong).sum())
    return correct / total


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
                "bound": certificate.claim_correct / total, "prove_s": prove_seconds, "check_s": verdict.seconds,
                "flops": verdict.flops, "message": verdict.message,
            })
    start = time.perf_counter()
    accuracy = forward_accuracy(model_path)
    return {"model": model_path.name, "accuracy": accuracy, "forward_s": time.perf_counter() - start, "rows": rows}


def report(result: dict) -> dict[str, float]:
    """Print one model's figures; return each family's best relative bound."""
    rows = [row for row in result["rows"] if row["name"].startswith("subcubic/")]
    cubic = next(row for row in result["rows"] if row["name"] == "cubic")
    invalid = [row for row in result["rows"] if row["status"] != "VALID"]
    slowest = max(rows, key=lambda row: row["prove_s"] + row["check_s"])
    print(f"\n{result['model']}: accuracy {result['accuracy']:.6f}; {len(rows)} subcubic configurations, "
          f"{len(invalid)} not VALID {[row['name'] for row in invalid]}")
    print(f"  total prove {sum(r['prove_s'] for r in rows):.1f} s, total check {sum(r['check_s'] for r in rows):.1f} s; "
          f"slowest {slowest['name']}: prove {slowest['prove_s']:.2f} s + check {slowest['check_s']:.2f} s")
    best = {}
    print(f"  {'family':<50} {'best bound/acc':>14} {'max FLOPs':>10}  (cubic: {cubic['flops']:.3g} FLOPs, "
          f"bound/acc {cubic['bound'] / result['accuracy']:.4f})")
    for family in sorted({row["family"] for row in rows}):
        members = [row for row in rows if row["family"] == family]
        top = max(members, key=lambda row: row["bound"])
        best[family] = top["bound"] / result["accuracy"]
        print(f"  {family:<50} {best[family]:>14.4f} {max(r['flops'] for r in members):>10.3g}  best: {top['name']}")
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
