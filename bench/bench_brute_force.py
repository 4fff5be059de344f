"""Rigorous brute-force check versus a plain, unverified float32 torch forward pass.

Times, in one run on the same model: (a) `check` of a brute-force certificate (read, exact tables,
rigorous replay of all V^n sequences), and (b) a float32 torch forward pass over all V^n sequences
with an argmax accuracy count. Prints both times and the ratio a/b (goal: <= 1.0).

    python bench/bench_brute_force.py [--model models/max4-v64-d32-seed123.safetensors] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from certificates.model_file import load_model
from checker.verify import verify
from prover import strategies
from prover.certify import prove
from prover.model import AttentionOnlyTransformer
from prover.strategies.brute_force import sequence_tokens
from prover.writers import write_certificate

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "max4-v64-d32-seed123.safetensors"


def unverified_forward_seconds(model_path: Path, chunk: int = 1 << 16) -> tuple[float, int]:
    """Seconds for a float32 forward pass over every sequence, and the number it gets right."""
    weights = load_model(model_path)
    model = AttentionOnlyTransformer.from_weights(weights, device="cpu", dtype=torch.float32)
    total = weights.d_vocab**weights.n_ctx
    correct = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, total, chunk):
            tokens = sequence_tokens(torch.arange(first, min(first + chunk, total)), weights.d_vocab, weights.n_ctx)
            correct += int((model.last_logits(tokens).argmax(dim=1) == tokens.max(dim=1).values).sum())
    return time.perf_counter() - start, correct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each side")
    args = parser.parse_args()
    weights = load_model(args.model)
    certificate, prove_seconds = prove(weights, strategies.lookup("brute-force"), torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        cert_path = Path(tmp) / "brute-force.cert"
        write_certificate(cert_path, certificate)
        check_times, forward_times = [], []
        for _ in range(args.repeats):
            verdict = verify(cert_path, args.model)
            assert verdict.status == "VALID", verdict.message
            check_times.append(verdict.seconds)
            seconds, correct = unverified_forward_seconds(args.model)
            forward_times.append(seconds)
    check, forward = min(check_times), min(forward_times)
    total = weights.d_vocab**weights.n_ctx
    print(f"model                       {args.model.name}  (torch threads: {torch.get_num_threads()})")
    print(f"prover (float64 logits)    {prove_seconds:8.2f} s  claims {certificate.claim_correct}/{total}")
    print(f"(a) rigorous check          {check:8.2f} s  certified {verdict.certified_count}/{total}, "
          f"{verdict.flops:.3e} FLOPs")
    print(f"(b) float32 torch forward   {forward:8.2f} s  argmax-correct {correct}/{total}")
    print(f"ratio a/b                   {check / forward:8.2f}  (goal <= 1.0; best of {args.repeats})")


if __name__ == "__main__":
    main()
