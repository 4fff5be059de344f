"""Proof search for the subcubic family (SPEC 6): hint directions, min gaps and claims that verify.

Directions come from float64 SVDs in torch (untrusted; any value is sound). Claims are computed with the
checker's own interval functions (:mod:`checker.strategies.subcubic_bounds` and friends) on the claims
the checker will read, then rounded outward to float32, so a true claim always verifies and moving any
claim one float32 step to the unsafe side makes it fail (FIX of SPEC 6: the search and the verification
use the same formulas, the last position's embedding included).

Min gaps: the case bounds of every valid ``(q, m, c, g)`` are evaluated; each case keeps the smallest
gap ``g`` (the most sequences) whose claimed bound is negative. For ``mean-query+diff`` the average
attention ``abar[m, c]`` is the mean, over the queries of ``(m, c)``, of the claimed lower attention
bound at the gap the ``drop-average-query`` search picks (the largest gap where none).

Memory: there are about V^3 (n - 1) / 3 candidates (805,565,440 at K = 20, V = 512), so they are evaluated in blocks
of consecutive max tokens with at most :data:`BLOCK_CASES` candidates each. Every quantity the search
reduces to (the smallest good gap of ``(q, m, c)``, the average of ``(m, c)``) depends on the candidates
of one max token only, so the blocked search gives exactly the result of the unblocked one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from certificates.model_file import ModelWeights
from checker.kernel import Interval
from checker.strategies.subcubic_bounds import (
    AttentionSetup,
    LogitTerms,
    all_max_bounds,
    attention_enclosures,
    attention_setup,
    case_bound_enclosures,
    exact_all_max,
    factored_all_max,
    gap_in_range,
    mean_query,
    non_max_slots,
    valid_cases,
)
from checker.strategies.subcubic_eqke import SUBPRODUCT_DECOMPOSITION, SVD_DECOMPOSITION
from checker.tables import Tables


def round_up32(values: np.ndarray) -> np.ndarray:
    """The smallest float32 >= each value (inf above the float32 range; NaN stays NaN)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        rounded = values.astype(np.float32)
    return np.where(rounded < values, np.nextafter(rounded, np.float32(np.inf)), rounded)


def round_down32(values: np.ndarray) -> np.ndarray:
    """The largest float32 <= each value."""
    return -round_up32(-np.asarray(values, dtype=np.float64))


# ----------------------------------------------------------------------------- directions
def _float64(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.tensor(np.asarray(array, dtype=np.float64), device=device)


def _top_left(matrix: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svd(matrix, full_matrices=False)[0][:, 0]


def _top_right(matrix: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svd(matrix, full_matrices=False)[2][0]


def _remove(matrix: torch.Tensor, direction: torch.Tensor, side: str) -> torch.Tensor:
    """``(I - h h^T) M`` (side "left") or ``M (I - h h^T)`` (side "right")."""
    if side == "left":
        return matrix - torch.outer(direction, direction @ matrix)
    return matrix - torch.outer(matrix @ direction, direction)


def finite_direction(vector: torch.Tensor) -> np.ndarray:
    """The vector as float64, or the first unit vector if it is not finite (any hint is sound; a
    certificate holds only finite numbers)."""
    values = vector.cpu().numpy().astype("<f8")
    if np.isfinite(values).all():
        return values
    return np.eye(1, values.size, dtype="<f8")[0]


def eqke_hints(weights: ModelWeights, knob: str, device: torch.device) -> dict[str, np.ndarray]:
    """Directions for an attention-error knob's decomposition (:mod:`checker.strategies.subcubic_eqke`),
    as SPEC 6 prescribes (any directions are sound; these make the remainders small):

    * ``svd``: ``u``, ``v`` = the top left and right singular vectors of ``EQKE'`` (``X0 X1 X2 X3``);
    * subproduct: ``q1``, ``k1`` = the top left and right singular vectors of ``EQKE'`` (the query and
      size directions); ``q2``, ``k2`` = the top left singular vectors of the query-side remainder
      ``X0 - q1 (q1^T X0)`` and of the key-side remainder ``X3^T - k1 (k1^T X3^T)``; ``uq``, ``uk`` = the
      top left singular vectors of ``W_Q`` and ``W_K`` (d x h), so that ``m1``, ``m2`` lose their dominant
      singular value.
    """
    if knob not in SVD_DECOMPOSITION and knob not in SUBPRODUCT_DECOMPOSITION:
        return {}
    embed, positions = _float64(weights.W_E, device), _float64(weights.W_pos, device)
    ones = torch.ones((weights.d_vocab, 1), dtype=torch.float64, device=device)
    x0 = torch.cat([embed + positions[-1], ones], dim=1)
    x1 = torch.cat([_float64(weights.W_Q, device), _float64(weights.b_Q, device)[None]], dim=0)
    x2 = _float64(weights.W_K, device).T
    x3 = (weights.n_ctx * embed + positions.sum(dim=0)).T
    u, _, vh = torch.linalg.svd(x0 @ x1 @ x2 @ x3)
    if knob in SVD_DECOMPOSITION:
        hints = {"u": u[:, 0], "v": vh[0]}
    else:
        q1, k1 = u[:, 0], vh[0]
        q2 = _top_left(_remove(x0, q1, "left"))
        k2 = _top_right(_remove(x3, k1, "right"))
        uq = _top_left(_float64(weights.W_Q, device))
        uk = _top_left(_float64(weights.W_K, device))
        hints = {"q1": q1, "q2": q2, "k1": k1, "k2": k2, "uq": uq, "uk": uk}
    return {name: finite_direction(value) for name, value in hints.items()}


def direct_hints(weights: ModelWeights, knob: str, device: torch.device) -> dict[str, np.ndarray]:
    """``d0`` for ``svd-query+max-diff``: the mean query projected on the top right singular vector of E~q.

    A deliberate departure from SPEC 6 (which takes a direction from the SVD of ``(E + mean P) W_U``):
    measured on seeds 123 and 519, the SPEC's choice certifies 0.501 and 0.269 against 0.755 and 0.519
    (README, "Choices"); any ``d0`` is sound."""
    if knob != "svd-query+max-diff":
        return {}
    queries = _float64(weights.W_E, device) + _float64(weights.W_pos, device)[-1]
    direction = _top_right(queries)
    d0 = (queries @ direction).mean() * direction
    return {"d0": finite_direction(d0)}


# ----------------------------------------------------------------------------- gaps and claims
@dataclass(frozen=True)
class Claims:
    """A certificate's search results: gap table, good mask and the float32 claims (C order of good)."""

    gap: np.ndarray
    good: np.ndarray
    alpha_lo: np.ndarray
    alpha_hi: np.ndarray
    bound: np.ndarray
    average: np.ndarray | None


@dataclass(frozen=True)
class ClaimInputs:
    """What the claims of one configuration depend on (all checker-side objects)."""

    tables: Tables
    ehat: Interval
    eps: np.ndarray
    order: np.ndarray
    terms: LogitTerms
    slack: Interval
    exact_rows: np.ndarray | None

    @cached_property
    def attention(self) -> AttentionSetup:
        """The checker's attention set-up of these inputs (computed once)."""
        return attention_setup(self.tables, self.ehat, self.eps, self.order)


BLOCK_CASES = 2**22
"""Candidate cases evaluated at once by the gap search (each costs a few hundred bytes while evaluated)."""

KEPT_CASES = 2**25
"""Up to this many candidates in all, their attention claims are computed once and kept for every
configuration of the same attention-error knob; above, each configuration recomputes them block by block."""


def candidates_per_max(vocab: int, n_ctx: int) -> np.ndarray:
    """[V]: the number of candidate cases ``(q, m, c, g)`` of each max token ``m``."""
    q, m, c = np.nonzero(valid_cases(vocab, n_ctx))
    gaps = np.where(non_max_slots(q, m, c) > 0, m, 1)
    return np.bincount(m, weights=gaps, minlength=vocab).astype(np.int64)


def max_token_blocks(vocab: int, n_ctx: int, limit: int) -> list[np.ndarray]:
    """Consecutive max tokens grouped so that a group has at most ``limit`` candidates (or is one token)."""
    blocks: list[np.ndarray] = []
    start, held = 0, 0
    for token, count in enumerate(candidates_per_max(vocab, n_ctx).tolist()):
        if token > start and held + count > limit:
            blocks.append(np.arange(start, token))
            start, held = token, 0
        held += count
    blocks.append(np.arange(start, vocab))
    return blocks


def candidate_cases(vocab: int, n_ctx: int, maxima: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Every valid ``(q, m, c, g)`` (with ``m`` in ``maxima`` if given): all usable gaps when j >= 1, the
    gap 1 alone when j = 0."""
    valid = valid_cases(vocab, n_ctx)
    if maxima is not None:
        valid &= np.isin(np.arange(vocab), maxima)[None, :, None]
    q, m, c = np.nonzero(valid)
    j = non_max_slots(q, m, c)
    gaps = np.arange(1, max(vocab, 2))
    repeat = np.where(j > 0, m, 1)
    q, m, c, j = (np.repeat(axis, repeat) for axis in (q, m, c, j))
    g = np.concatenate([gaps[:count] for count in repeat]) if repeat.size else np.zeros(0, dtype=np.int64)
    keep = gap_in_range(m, g, j, vocab)
    return q[keep], m[keep], c[keep], g[keep]


@dataclass(frozen=True)
class CandidateBlock:
    """The candidate cases ``(q, m, c, g)`` of some max tokens with their float32 attention claims (0 for
    all-max cases)."""

    cases: tuple[np.ndarray, ...]
    alpha_lo: np.ndarray
    alpha_hi: np.ndarray


def attention_claims(inputs: ClaimInputs, cases: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``alpha_lo``, ``alpha_hi`` of ``cases`` (0 for all-max cases), from the checker's enclosures."""
    q, m, c, _ = cases
    all_max = (q == m) & (c == 0)
    attended = tuple(axis[~all_max] for axis in cases)
    lower, upper = attention_enclosures(inputs.attention, attended)
    alpha_lo, alpha_hi = np.zeros(q.size, np.float32), np.zeros(q.size, np.float32)
    alpha_lo[~all_max], alpha_hi[~all_max] = round_down32(lower.lo), round_up32(upper.hi)
    return alpha_lo, alpha_hi


class CandidateAttention:
    """Every candidate case with its attention claims, block by block (they depend on neither the direct
    path nor the attention knob); kept after the first pass when there are at most :data:`KEPT_CASES`."""

    def __init__(self, inputs: ClaimInputs) -> None:
        vocab, n_ctx = inputs.tables.eqkp.shape
        self.inputs = inputs
        self.maxima = max_token_blocks(vocab, n_ctx, BLOCK_CASES)
        self._kept: list[CandidateBlock] | None = None
        self._keep = int(candidates_per_max(vocab, n_ctx).sum()) <= KEPT_CASES

    def block(self, maxima: np.ndarray) -> CandidateBlock:
        """The candidates of the max tokens ``maxima`` with their attention claims (computed now)."""
        vocab, n_ctx = self.inputs.tables.eqkp.shape
        cases = candidate_cases(vocab, n_ctx, maxima)
        return CandidateBlock(cases, *attention_claims(self.inputs, cases))

    def blocks(self) -> Iterator[CandidateBlock]:
        """The blocks of :attr:`maxima` in order (computed now unless kept from an earlier pass)."""
        if self._kept is not None:
            yield from self._kept
            return
        computed = []
        for maxima in self.maxima:
            block = self.block(maxima)
            if self._keep:
                computed.append(block)
            yield block
        if self._keep:
            self._kept = computed


def bound_claims(
    inputs: ClaimInputs, cases: tuple[np.ndarray, ...], alpha_lo: np.ndarray, alpha_hi: np.ndarray,
    average: np.ndarray | None,
) -> np.ndarray:
    """float32 claims of ``B`` from the checker's enclosures, given the attention claims (NaN where a claim
    would not be finite)."""
    q, m, c, _ = cases
    all_max = (q == m) & (c == 0)
    attended = tuple(axis[~all_max] for axis in cases)
    bound = np.empty(q.size)
    enclosure = case_bound_enclosures(
        inputs.terms, inputs.slack, attended, alpha_lo[~all_max].astype(np.float64),
        alpha_hi[~all_max].astype(np.float64), None if average is None else mean_query(inputs.terms, average),
    )
    bound[~all_max] = round_up32(enclosure.hi)
    bound[all_max] = all_max_claims(inputs, m[all_max])
    finite = np.isfinite(alpha_lo) & np.isfinite(alpha_hi) & np.isfinite(bound)
    return np.where(finite, bound, np.nan).astype(np.float32)


def all_max_claims(inputs: ClaimInputs, maxima: np.ndarray) -> np.ndarray:
    """float32 claims of the all-max cases, from the enclosures the checker uses
    (:func:`checker.strategies.subcubic_bounds.all_max_bounds`, with the hint ``exact_rows``)."""
    return round_up32(all_max_bounds(inputs.tables, inputs.terms, inputs.slack, maxima, inputs.exact_rows).hi)


def exact_rows_hint(tables: Tables, terms: LogitTerms, slack: Interval) -> np.ndarray:
    """``exact_rows`` [V] for a factored direct path: the max tokens whose all-max case the factored bound
    cannot certify and the exact row can (the checker reads those rows, and only those)."""
    maxima = np.arange(tables.weights.d_vocab)
    factored = round_up32(factored_all_max(terms, slack, maxima).hi)
    exact = round_up32(exact_all_max(tables, terms, maxima).hi)
    return ~(factored < 0) & (exact < 0)


def smallest_good_gap(cases: tuple[np.ndarray, ...], bound: np.ndarray, chosen: np.ndarray) -> None:
    """Lower ``chosen`` [V, V, n] (0: no good gap yet) to the smallest gap of each case with a negative
    claimed bound."""
    q, m, c, g = cases
    good = bound < 0
    smallest = np.where(chosen > 0, chosen, np.iinfo(np.int64).max)
    np.minimum.at(smallest, (q[good], m[good], c[good]), g[good])
    chosen[...] = np.where(smallest == np.iinfo(np.int64).max, 0, smallest)


def average_attention(
    cases: tuple[np.ndarray, ...], alpha_lo: np.ndarray, chosen: np.ndarray, average: np.ndarray
) -> None:
    """Set ``abar[m, c]`` in ``average`` for the max tokens of ``cases`` (all their candidates): the mean
    over q of the (finite) lower attention claim at the chosen gap (the largest if none); 1 where there is
    none."""
    q, m, c, g = cases
    largest = np.zeros(chosen.shape, dtype=np.int64)
    np.maximum.at(largest, (q, m, c), g)
    target = np.where(chosen[q, m, c] > 0, chosen[q, m, c], largest[q, m, c])
    picked = (g == target) & ~((q == m) & (c == 0)) & np.isfinite(alpha_lo)
    totals, counts = np.zeros(average.shape), np.zeros(average.shape)
    np.add.at(totals, (m[picked], c[picked]), alpha_lo[picked])
    np.add.at(counts, (m[picked], c[picked]), 1.0)
    rows = np.unique(m)
    average[rows] = np.where(counts[rows] > 0, totals[rows] / np.maximum(counts[rows], 1.0), 1.0)


def chosen_gaps(
    inputs: ClaimInputs, blocks: Iterable[CandidateBlock], mean_query_knob: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """[V, V, n] smallest good gaps (0: none) of the candidates of ``blocks`` (each holding every candidate
    of its max tokens) and, for ``mean-query+diff``, the average ``abar`` [V, n] (1 on other tokens)."""
    vocab, n_ctx = inputs.tables.eqkp.shape
    chosen = np.zeros((vocab, vocab, n_ctx), dtype=np.int64)
    average = np.ones((vocab, n_ctx)) if mean_query_knob else None
    for block in blocks:
        cases, lower, upper = block.cases, block.alpha_lo, block.alpha_hi
        first = np.zeros_like(chosen) if mean_query_knob else chosen
        smallest_good_gap(cases, bound_claims(inputs, cases, lower, upper, None), first)
        if average is not None:
            average_attention(cases, lower.astype(np.float64), first, average)
            smallest_good_gap(cases, bound_claims(inputs, cases, lower, upper, average), chosen)
    return chosen, average


def search_claims(inputs: ClaimInputs, candidates: CandidateAttention, mean_query: bool) -> Claims:
    """Min gaps and verified-to-be claims for one configuration (module docstring)."""
    chosen, average = chosen_gaps(inputs, candidates.blocks(), mean_query)
    good = chosen > 0
    while True:
        q, m, c = np.nonzero(good)
        final = (q, m, c, chosen[q, m, c])
        alpha_lo, alpha_hi = attention_claims(inputs, final)
        bound = bound_claims(inputs, final, alpha_lo, alpha_hi, average)
        failing = ~(bound < 0)
        if not failing.any():
            break
        good[q[failing], m[failing], c[failing]] = False
    all_max = (q == m) & (c == 0)
    return Claims(
        gap=np.where(good, chosen, 1).astype("<i4"), good=good, alpha_lo=alpha_lo[~all_max].astype("<f4"),
        alpha_hi=alpha_hi[~all_max].astype("<f4"), bound=bound.astype("<f4"),
        average=None if average is None else average.astype("<f8"),
    )
