"""Brute force (SPEC 5.1) on the prover side: float64 logits of every sequence.

The claim is the number of sequences whose float64 margin ``logit_max - max_{y != max} logit_y``
exceeds ``CLAIM_MARGIN``. The float64 evaluation is accurate to about 1e-13 on these logits, far
inside ``CLAIM_MARGIN``, so every claimed sequence is one the checker's rigorous replay certifies; the
sequences in between are left unclaimed (a slightly conservative bound) and the checker reports them.
"""

from __future__ import annotations

import itertools

import torch

from prover.progress import progress
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register
from prover.tables import torch_tables

NAME = "brute-force"
CLAIM_MARGIN = 1e-9
MAX_LISTED_FAILURES = 1 << 16


def sequence_tokens(flat_indices: torch.Tensor, vocab: int, n_ctx: int) -> torch.Tensor:
    """Tokens [B, n] of flat sequence indices (x_0 most significant)."""
    powers = vocab ** torch.arange(n_ctx - 1, -1, -1, device=flat_indices.device)
    return (flat_indices[:, None] // powers) % vocab


def all_margins(proof_input: ProofInput) -> torch.Tensor:
    """Float64 margins ``logit_max - max_{y != max} logit_y`` of all sequences, shape [V]*n (on the CPU).

    Uses the exact identity of SPEC 1 (a score depends on (query, token, position); the logits are an
    attention-weighted sum of table rows), broadcast over the last two non-query positions and looped
    over the query token and the other positions. Sequences whose weights all underflow get NaN.
    """
    weights, device = proof_input.weights, proof_input.device
    tables = torch_tables(weights, device)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    inner = min(n_ctx - 1, 2)
    outer = n_ctx - 1 - inner
    margins = torch.empty((vocab,) * n_ctx, dtype=torch.float64)
    grid_max = _grid_maximum(vocab, inner, device)
    for query in progress(range(vocab), desc="brute force"):
        scores = tables["eqke"][query][:, None] + tables["eqkp"][query][None, :]  # [t, p]
        attention = torch.exp(scores - scores.max())
        values = attention[:, :, None] * (tables["evou"][:, None, :] + tables["pvou"][None] + tables["eupu"][query])
        for prefix in itertools.product(range(vocab), repeat=outer):
            fixed = [(token, position) for position, token in enumerate(prefix)] + [(query, n_ctx - 1)]
            free = range(outer, n_ctx - 1)
            logits = sum(values[t, p] for t, p in fixed) + _outer_sum([values[:, p] for p in free])
            total = sum(attention[t, p] for t, p in fixed) + _outer_sum([attention[:, p] for p in free])
            label = torch.clamp(grid_max, min=max((query, *prefix)))[..., None]
            correct = logits.gather(-1, label).squeeze(-1)
            others = logits.scatter(-1, label, float("-inf")).amax(dim=-1)
            margins[(*prefix, ..., query)] = ((correct - others) / total).cpu()
    return margins


def _grid_maximum(vocab: int, dims: int, device: torch.device) -> torch.Tensor:
    """``out[i_1, ..., i_dims] = max(i_1, ..., i_dims)``."""
    axes = torch.meshgrid(*[torch.arange(vocab, device=device)] * dims, indexing="ij")
    return torch.stack(axes).amax(dim=0)


def _outer_sum(parts: list[torch.Tensor]) -> torch.Tensor:
    """``out[i_1, ..., i_k, ...] = sum_j parts[j][i_j, ...]`` (trailing axes shared)."""
    dims = len(parts)
    total = 0
    for axis, part in enumerate(parts):
        shape = [1] * dims + list(part.shape[1:])
        shape[axis] = part.shape[0]
        total = total + part.reshape(shape)
    return total


def prove_brute_force(proof_input: ProofInput) -> ProofOutput:
    margin = all_margins(proof_input).reshape(-1)
    claimed = margin > CLAIM_MARGIN
    failures = torch.nonzero(~claimed).squeeze(1)[:MAX_LISTED_FAILURES].numpy().astype("<i8")
    return ProofOutput(
        claim_correct=int(claimed.sum()),
        trace={"failures": {"sequences": failures}},
        params={"claim_margin": str(CLAIM_MARGIN)},
    )


register(StrategyInfo(name=NAME, family="brute-force", complexity="O(V^n n V)", prove=prove_brute_force))
