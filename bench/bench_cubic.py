"""Cubic strategies versus the brute-force check, measured in one run on the same model.

For each cubic strategy: prove seconds (tables, case grid, claims), check seconds (read, exact tables,
rigorous replay, counting; best of N), certificate size, certified bound and FLOPs (cost model v1).
Then the brute-force certificate's check time, and the ratio cubic check / brute-force check.
Goal: prove and check both under 2 s for the example model.

    python bench/bench_cubic.py [--model models/max4-v64-d32-seed123.safetensors] [--repeats 3] [--no-brute-force]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from certificates.model_file import load_model
from checker.verify import verify
from prover import strategies
from prover.certify import default_device, prove
from prover.writers import write_certificate

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "max4-v64-d32-seed123.safetensors"
CUBIC_STRATEGIES = ("cubic", "cubic-ov-chord")


def best_check_seconds(cert_path: Path, model_path: Path, repeats: int):
    """The fastest of ``repeats`` checks, and its (VALID) verdict."""
    verdicts = [verify(cert_path, model_path) for _ in range(repeats)]
    for verdict in verdicts:
        assert verdict.status == "VALID", verdict.message
    return min(verdicts, key=lambda verdict: verdict.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each timing")
    parser.add_argument("--no-brute-force", action="store_true", help="skip the (slow) brute-force baseline")
    args = parser.parse_args()
    weights = load_model(args.model)
    total = weights.d_vocab**weights.n_ctx
    device = default_device()
    print(f"model {args.model.name}  V={weights.d_vocab} n={weights.n_ctx} d={weights.d_model}  "
          f"prover device {device}, torch threads {torch.get_num_threads()}")
    checks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in (*CUBIC_STRATEGIES, *(() if args.no_brute_force else ("brute-force",))):
            certificate, prove_seconds = prove(weights, strategies.lookup(name), device)
            if name in CUBIC_STRATEGIES:
                repeated = (prove(weights, strategies.lookup(name), device)[1] for _ in range(args.repeats - 1))
                prove_seconds = min(prove_seconds, *repeated)
            cert_path = Path(tmp) / f"{name}.cert"
            write_certificate(cert_path, certificate)
            verdict = best_check_seconds(cert_path, args.model, args.repeats)
            checks[name] = verdict.seconds
            print(f"{name:15s} prove {prove_seconds:7.3f} s  check {verdict.seconds:7.3f} s  "
                  f"certified {verdict.certified_count}/{total} = {verdict.certified_count / total:.4f}  "
                  f"{verdict.flops:.3e} FLOPs  {cert_path.stat().st_size / 2**20:.2f} MiB")
    if "brute-force" in checks:
        for name in CUBIC_STRATEGIES:
            print(f"check time {name} / brute-force: {checks[name] / checks['brute-force']:.4f}")
    else:
        print("brute-force baseline skipped: only the cubic numbers are printed")


if __name__ == "__main__":
    main()
