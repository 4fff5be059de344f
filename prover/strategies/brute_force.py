"""Brute force (SPEC 5.1) on the prover side: float64 logits of every sequence.

The claim is the number of sequences whose float64 margin ``logit_max - max_{y != max} logit_y``
exceeds ``CLAIM_MARGIN``. The float64 evaluation is accurate to about 1e-13 on these logits, far
inside ``CLAIM_MARGIN``, so every claimed sequence is one the checker's rigorous replay certifies; the
sequences in between are left unclaimed (a slightly conservative bound) and the checker reports them.
"""

from __future__ import annotations

import itertools
import math

import torch

from checker.shards import ShardScope
from prover.progress import progress
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register
from prover.tables import torch_tables

NAME = "brute-force"
CLAIM_MARGIN = 1e-9
MAX_LISTED_FAILURES = 1 << 16
INNER_ELEMENTS = 1 << 22
"""Most logits computed at once: the free positions broadcast together have V^inner * V <= this."""


def sequence_tokens(flat_indices: torch.Tensor, vocab: int, n_ctx: int) -> torch.Tensor:
    """Tokens [B, n] of flat sequence indices (x_0 most significant)."""
    powers = vocab ** torch.arange(n_ctx - 1, -1, -1, device=flat_indices.device)
    return (flat_indices[:, None] // powers) % vocab


def all_margins(proof_input: ProofInput) -> torch.Tensor:
    """Float64 margins ``logit_max - max_{y != max} logit_y`` of all sequences, shape [V]*n (on the CPU):
    the shards of depth 0 (one per query token, :func:`shard_margins`) side by side."""
    weights = proof_input.weights
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    tables = torch_tables(weights, proof_input.device)
    margins = torch.empty((vocab,) * n_ctx, dtype=torch.float64)
    for query in progress(range(vocab), desc="brute force"):
        margins[..., query] = shard_margins(tables, ShardScope(query, (), n_ctx - 1))
    return margins


def shard_margins(tables: dict[str, torch.Tensor], scope: ShardScope) -> torch.Tensor:
    """Float64 margins of the sequences of one shard, shape [V]*free (its free positions in C order, on
    the CPU), from the prover's ``tables`` (:func:`prover.tables.torch_tables`).

    Uses the exact identity of SPEC 1 (a score depends on (query, token, position); the logits are an
    attention-weighted sum of table rows), broadcast over the last ``inner`` free positions (at most
    INNER_ELEMENTS logits at once) and looped over the others. Sequences whose weights all underflow get NaN.
    """
    query, prefix = scope.query, scope.prefix
    vocab, n_ctx = tables["eupu"].shape[0], tables["eqkp"].shape[1]
    device = tables["eupu"].device
    inner = min(scope.free, max(1, int(math.log(INNER_ELEMENTS, vocab)) - 1)) if vocab > 1 else scope.free
    first_inner = n_ctx - 1 - inner
    scores = tables["eqke"][query][:, None] + tables["eqkp"][query][None, :]  # [t, p]
    attention = torch.exp(scores - scores.max())
    values = attention[:, :, None] * (tables["evou"][:, None, :] + tables["pvou"][None] + tables["eupu"][query])
    margins = torch.empty((vocab,) * scope.free, dtype=torch.float64)
    grid_max = _grid_maximum(vocab, inner, device)
    free_inner = range(first_inner, n_ctx - 1)
    for looped in itertools.product(range(vocab), repeat=scope.free - inner):
        fixed_tokens = (*prefix, *looped)
        fixed = [(token, position) for position, token in enumerate(fixed_tokens)] + [(query, n_ctx - 1)]
        logits = sum(values[t, p] for t, p in fixed) + _outer_sum([values[:, p] for p in free_inner])
        total = sum(attention[t, p] for t, p in fixed) + _outer_sum([attention[:, p] for p in free_inner])
        label = torch.clamp(grid_max, min=max((query, *fixed_tokens)))[..., None]
        correct = logits.gather(-1, label).squeeze(-1)
        others = logits.scatter(-1, label, float("-inf")).amax(dim=-1)
        margins[looped] = ((correct - others) / total).cpu()
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
    return _claimed(all_margins(proof_input))


def prove_brute_force_shard(proof_input: ProofInput, scope: ShardScope) -> ProofOutput:
    """The claim and trace of one shard (its failures numbered within the shard, as the checker reads them)."""
    return _claimed(shard_margins(torch_tables(proof_input.weights, proof_input.device), scope))


def _claimed(margins: torch.Tensor) -> ProofOutput:
    """The count of margins above CLAIM_MARGIN, with the first MAX_LISTED_FAILURES others listed."""
    claimed = margins.reshape(-1) > CLAIM_MARGIN
    failures = torch.nonzero(~claimed).squeeze(1)[:MAX_LISTED_FAILURES].numpy().astype("<i8")
    return ProofOutput(
        claim_correct=int(claimed.sum()),
        trace={"failures": {"sequences": failures}},
        params={"claim_margin": str(CLAIM_MARGIN)},
    )


register(
    StrategyInfo(
        name=NAME, family="brute-force", complexity="O(V^n n V)", prove=prove_brute_force,
        prove_shard=prove_brute_force_shard,
    )
)
