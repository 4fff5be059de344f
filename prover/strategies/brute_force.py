"""Brute force (SPEC 5.1) on the prover side: a float64 forward pass over every sequence.

The claim is the number of sequences whose float64 margin ``logit_max - max_{y != max} logit_y``
exceeds ``CLAIM_MARGIN``. The float64 forward pass is accurate to about 1e-13 on these logits, far
inside ``CLAIM_MARGIN``, so every claimed sequence is one the checker's rigorous replay certifies; the
sequences in between are left unclaimed (a slightly conservative bound) and the checker reports them.
"""

from __future__ import annotations

import torch

from certificates.codec import TraceStep
from prover.model import AttentionOnlyTransformer
from prover.progress import progress
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register

NAME = "brute-force"
CLAIM_MARGIN = 1e-9
MAX_LISTED_FAILURES = 1 << 16


def sequence_tokens(flat_indices: torch.Tensor, vocab: int, n_ctx: int) -> torch.Tensor:
    """Tokens [B, n] of flat sequence indices (x_0 most significant)."""
    powers = vocab ** torch.arange(n_ctx - 1, -1, -1, device=flat_indices.device)
    return (flat_indices[:, None] // powers) % vocab


def margins(model: AttentionOnlyTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """``logit_max - max_{y != max} logit_y`` at the last position, per sequence."""
    logits = model.last_logits(tokens)
    label = tokens.max(dim=1, keepdim=True).values
    correct = logits.gather(1, label).squeeze(1)
    others = logits.scatter(1, label, float("-inf")).max(dim=1).values
    return correct - others


def all_margins(proof_input: ProofInput, chunk: int | None = None) -> torch.Tensor:
    """Float64 margins of all V^n sequences, in flat-index order (on the CPU)."""
    weights, device = proof_input.weights, proof_input.device
    model = AttentionOnlyTransformer.from_weights(weights, device=device, dtype=torch.float64)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    total = vocab**n_ctx
    chunk = chunk or (1 << 20 if device.type == "cuda" else 1 << 16)
    pieces = []
    with torch.inference_mode():
        for start in progress(range(0, total, chunk), total=-(-total // chunk), desc="brute force"):
            flat = torch.arange(start, min(start + chunk, total), device=device)
            pieces.append(margins(model, sequence_tokens(flat, vocab, n_ctx)).cpu())
    return torch.cat(pieces)


def prove_brute_force(proof_input: ProofInput) -> ProofOutput:
    margin = all_margins(proof_input)
    claimed = margin > CLAIM_MARGIN
    failures = torch.nonzero(~claimed).squeeze(1)[:MAX_LISTED_FAILURES].numpy().astype("<i8")
    return ProofOutput(
        claim_correct=int(claimed.sum()),
        trace=[TraceStep(step="failures", arrays={"sequences": failures})],
        params={"claim_margin": str(CLAIM_MARGIN)},
    )


register(StrategyInfo(name=NAME, family="brute-force", complexity="O(V^n n V)", prove=prove_brute_force))
