"""Brute force (SPEC 5.1): every one of the V^n input sequences, decided rigorously.

The sign formula (SPEC 2). For a sequence x with query token q = x_{n-1} and max m, let
``e_p = exp(a_p - shift) > 0`` with ``a_p = EQKE[q, x_p] + EQKP[q, p]`` and

    D_p[y] = (EUPU[q,m] - EUPU[q,y]) + (EVOU[x_p,m] - EVOU[x_p,y]) + (PVOU[p,m] - PVOU[p,y]).

Then ``logit_m - logit_y = sum_p e_p D_p[y] / sum_p e_p``, so x is correct iff
``min_{y != m} sum_p e_p D_p[y] > 0``. A score depends only on (q, token, position), so one query's
``L[t, p, m, y] <= e_p(t) * D[t, p, m, y]`` tables (rigorous lower bounds) serve all its sequences:

* stage 1 (O(n) per sequence): ``fl(sum_p min_y L[x_p, p, m, y]) > err`` certifies x, because
  ``min_y sum_p e_p D_p[y] >= sum_p min_y e_p D_p[y] >= sum_p min_y L[x_p, p, m, y]``;
* stage 2 (O(n V) per sequence left over): ``fl(sum_p L_p[y]) > err_y`` for every y != m, with
  ``L_p[y] <= e_p D_p[y]`` recomputed with the sequence's own shift (its largest score).

Each ``err`` bounds the rounding error of that float sum of n entries by the gamma bound of
:func:`checker.interval.sum_error_bound` applied to the float sum of the entries' magnitudes (per
sequence, so tiny attention weights do not drown in a global bound), and ``fl(s) > err`` with ``err``
the bound gives an exact sum > 0.
Every certified sequence is therefore correct in exact real arithmetic; ties are never certified.

The trace holds one step, ``failures``: the flat indices (x_0 most significant) of up to
``MAX_LISTED_FAILURES`` sequences the prover did not claim. They are diagnostics: the checker verifies
their range and order and reports how many of them it certified anyway.
"""

from __future__ import annotations

import numpy as np

from certificates.codec import Certificate
from certificates.model_file import ModelWeights
from checker import flops
from checker.interval import Interval, down, sum_error_bound
from checker.replay import InvalidCertificate, Trace
from checker.strategies import ReplayResult, register
from checker.tables import Tables

NAME = "brute-force"
MAX_LISTED_FAILURES = 1 << 16
MAX_SEQUENCES = 1 << 28


@register(NAME)
def replay_brute_force(certificate: Certificate, weights: ModelWeights, tables: Tables) -> ReplayResult:
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    if vocab**n_ctx > MAX_SEQUENCES:
        raise InvalidCertificate("failures", None, None, f"brute force over {vocab}^{n_ctx} sequences is too large")
    trace = Trace(certificate.trace)
    listed = trace.next("failures", {"sequences": ((-1,), "<i8")})["sequences"]
    trace.finish()
    _check_listed(listed, vocab**n_ctx)
    certified = certified_sequences(tables)
    listed_certified = int(np.count_nonzero(certified.reshape(-1)[listed]))
    return ReplayResult(
        certified_count=int(np.count_nonzero(certified)),
        notes={"listed_failures": int(listed.size), "listed_failures_certified": listed_certified},
    )


def _check_listed(listed: np.ndarray, total: int) -> None:
    if listed.size > MAX_LISTED_FAILURES:
        raise InvalidCertificate("failures", "sequences", None, f"more than {MAX_LISTED_FAILURES} listed")
    if listed.size and (listed.min() < 0 or listed.max() >= total or np.any(listed[1:] <= listed[:-1])):
        raise InvalidCertificate("failures", "sequences", None, "indices must be increasing and in range")


def certified_sequences(tables: Tables) -> np.ndarray:
    """Boolean array [V]*n (x_0 first): True where the sequence is proven correct."""
    vocab, n_ctx = tables.eqkp.shape
    certified = np.zeros((vocab,) * n_ctx, dtype=bool)
    shared = _output_differences(tables)
    for query in range(vocab):
        stage1 = _stage1_table(tables, shared, query)
        for max_token in range(query, vocab):
            _certify_block(certified, tables, shared, stage1, query, max_token)
    return certified


def _output_differences(tables: Tables) -> np.ndarray:
    """``lo[t, p, m, y] <= (EVOU[t,m] - EVOU[t,y]) + (PVOU[p,m] - PVOU[p,y])``, independent of the query."""
    evou, pvou = tables.evou, tables.pvou
    evou_diff = down(evou.lo[:, :, None] - evou.hi[:, None, :])  # [t, m, y]
    pvou_diff = down(pvou.lo[:, :, None] - pvou.hi[:, None, :])  # [p, m, y]
    combined = down(evou_diff[:, None, :, :] + pvou_diff[None, :, :, :])
    flops.charge(evou_diff.size + pvou_diff.size + combined.size)
    return combined


def _unembed_lower(tables: Tables, query: int) -> np.ndarray:
    """``lo[m, y] <= EUPU[q,m] - EUPU[q,y]`` for this query."""
    flops.charge(tables.eupu.shape[1] ** 2)
    return down(tables.eupu.lo[query][:, None] - tables.eupu.hi[query][None, :])


def _weighted_lower(weights: Interval, difference: np.ndarray) -> np.ndarray:
    """``<= e * D`` for e in ``weights`` (e >= 0) and D >= ``difference``, broadcast over trailing axes.

    e*D >= e_lo*D_lo when D_lo >= 0 and e*D >= e_hi*D_lo when D_lo < 0, because 0 <= e_lo <= e <= e_hi.
    """
    extra = (None,) * (difference.ndim - weights.lo.ndim)
    factor = np.where(difference >= 0, weights.lo[(..., *extra)], weights.hi[(..., *extra)])
    flops.charge(difference.size)
    return down(factor * difference)


def _stage1_table(tables: Tables, shared: np.ndarray, query: int) -> np.ndarray:
    """``S1[t, p, m] <= min_{y != m} e_p(t) D[t, p, m, y]`` with one shift for the whole query."""
    vocab = tables.eqkp.shape[0]
    scores = tables.eqke[query][:, None] + tables.eqkp[query][None, :]  # [t, p]
    weights = (scores - float(scores.lo.max())).exp()
    difference = down(_unembed_lower(tables, query) + shared)  # [t, p, m, y]
    flops.charge(difference.size)
    lower = _weighted_lower(weights, difference)
    diagonal = np.arange(vocab)
    lower[:, :, diagonal, diagonal] = np.inf  # y = m is not a competitor
    flops.charge(flops.reduction_cost(vocab - 1, lower.size // vocab))
    return lower.min(axis=3)


def _certify_block(
    certified: np.ndarray, tables: Tables, shared: np.ndarray, stage1: np.ndarray, query: int, m: int
) -> None:
    """Certify the sequences whose query is ``query`` and whose maximum is ``m``."""
    n_ctx = stage1.shape[1]
    base = stage1[query, n_ctx - 1, m]
    for ranges in _max_blocks(query, m, n_ctx - 1):
        terms = [stage1[tokens, p, m] for p, tokens in enumerate(ranges)]
        grid = base + _outer_sum(terms)
        magnitude = np.abs(base) + _outer_sum([np.abs(t) for t in terms])
        passed = grid > sum_error_bound(magnitude, n_ctx)
        flops.charge(grid.size * (2 * n_ctx + 1))
        left = np.nonzero(~passed)
        if left[0].size:
            tokens_left = np.stack([ranges[p][idx] for p, idx in enumerate(left)], axis=1)
            passed[left] = _stage2(tables, shared, query, m, tokens_left)
        certified[np.ix_(*ranges, [query])] = passed[..., None]


def _stage2(tables: Tables, shared: np.ndarray, query: int, m: int, tokens: np.ndarray) -> np.ndarray:
    """``fl(sum_p L_p[y]) > err_y`` for every y != m, for the sequences ``tokens`` [K, n-1].

    Each sequence gets its own shift (its largest score), so its attention weights are near 1 at the
    top and the terms cannot all underflow.
    """
    count, n_ctx = tokens.shape[0], tables.eqkp.shape[1]
    sequences = np.concatenate([tokens, np.full((count, 1), query)], axis=1)  # [K, n]
    positions = np.arange(n_ctx)[None, :]
    scores = tables.eqke[query][sequences] + tables.eqkp[query][None, :]  # [K, n]
    weights = (scores - Interval.exact(scores.lo.max(axis=1, keepdims=True))).exp()
    difference = down(_unembed_lower(tables, query)[m] + shared[sequences, positions, m, :])  # [K, n, y]
    terms = _weighted_lower(weights, difference)  # [K, n, y]
    total, magnitude = terms.sum(axis=1), np.abs(terms).sum(axis=1)
    passed = total > sum_error_bound(magnitude, n_ctx)
    passed[:, m] = True  # y = m is not a competitor
    flops.charge(total.size * (3 * n_ctx + 1))
    return passed.all(axis=1)


def _max_blocks(query: int, m: int, free: int) -> list[list[np.ndarray]]:
    """Token ranges, one per non-query position, whose product is every arrangement with max exactly m.

    With q = m: all tokens in [0, m]. With q < m: blocks by the first position j holding m
    (positions before j in [0, m), j = m, after j in [0, m]); the blocks are disjoint and cover all.
    """
    up_to = np.arange(m + 1)
    if query == m:
        return [[up_to] * free]
    below, only = np.arange(m), np.array([m])
    return [[below] * j + [only] + [up_to] * (free - 1 - j) for j in range(free)]


def _outer_sum(parts: list[np.ndarray]) -> np.ndarray:
    """``out[i_0, ..., i_k] = sum_j parts[j][i_j]`` by broadcasting (a 0-d array for no parts)."""
    total = np.zeros(())
    for axis, part in enumerate(parts):
        shape = [1] * len(parts)
        shape[axis] = part.size
        total = total + part.reshape(shape)
    return total

