"""Rigorous enclosures of one query's attention shares, pessimised over the arrangement of its keys.

Setting (SPEC 5.2, reused by the subcubic family). One query row attends to ``L`` non-query positions
and to itself. Position ``p < L`` has a positional weight ``x_p > 0`` (``exp`` of its positional score
minus a shift); a key token contributes a factor ``f > 0`` (``exp`` of its token score minus a shift).
A case puts the max token (factor ``f_max``) on ``M`` of the ``L`` positions, another token (factor
``f_other``) on the other ``L - M``, and the query slot has weight ``w > 0``. For an arrangement ``S``
(the set of max positions, ``|S| = M``) the softmax gives the shares

    A_max = f_max X / Z,   A_other = f_other Y / Z,   A_query = w / Z,   Z = f_max X + f_other Y + w,

with ``X = sum_{p in S} x_p`` and ``Y = sum_{p not in S} x_p = T - X``. Every share, hence every function
``g = c_max A_max + c_other A_other + c_query A_query`` with constant coefficients, is a linear-fractional
function of ``X`` alone with a positive denominator, so ``g`` is monotone in ``X`` and its maximum over all
arrangements is attained at ``X_min`` (``S`` = the ``M`` smallest ``x_p``, configuration "lo") or at
``X_max`` (the ``M`` largest, configuration "hi"). :func:`extreme_attention` encloses the true shares of
both configurations, so ``max(g_lo.hi, g_hi.hi)`` bounds ``g`` over every arrangement.
"""

from __future__ import annotations

import numpy as np

from checker import flops
from checker.interval import Interval, down, up

LO, HI = 0, 1
"""Configuration axis of :func:`extreme_attention`: max tokens on the lowest / highest positional weights."""


def extreme_slot_sums(weights: Interval, order: np.ndarray) -> tuple[Interval, Interval]:
    """Enclosures of the smallest and largest sums of ``M`` of the ``L`` weights, ``M = 0..L``.

    ``weights`` [R, L] encloses reals ``x_p``; ``order`` [R, L] is any permutation of ``0..L-1`` per row
    (a hint, meant to sort the row ascending). Returns ``smallest, largest`` [R, L+1] with

        smallest[r, M]  contains  min_{|S| = M} sum_{p in S} x[r, p],
        largest[r, M]   contains  max_{|S| = M} sum_{p in S} x[r, p],

    for EVERY permutation: the hint affects tightness only. Along the hint, let
    ``lo'_j = min_{i >= j} lo[order_i]`` and ``hi'_j = max_{i <= j} hi[order_i]``. Both are non-decreasing,
    and ``lo'_j <= s_j(lo)``, ``hi'_j >= s_j(hi)``, where ``s_j`` is the j-th smallest entry (0-based): a set
    of ``L - j`` entries has its minimum at most ``s_j``, a set of ``j + 1`` entries its maximum at least
    ``s_j``. Since ``min_S sum x`` lies between the sums of the ``M`` smallest lower and upper endpoints
    (and ``max_S`` between the sums of the ``M`` largest), the prefix (suffix) sums of ``lo'`` and ``hi'``
    enclose them. When the hint sorts both endpoint rows, ``lo'``, ``hi'`` are the sorted endpoints and
    nothing is lost. The two running scans cost ``2 (L - 1)`` comparisons per row (the supplied sort is
    checked, in effect, by making it true).
    """
    row_index = np.arange(weights.shape[0])[:, None]
    length = weights.shape[1]
    lo_along, hi_along = weights.lo[row_index, order], weights.hi[row_index, order]
    lower = np.minimum.accumulate(lo_along[:, ::-1], axis=1)[:, ::-1]
    upper = np.maximum.accumulate(hi_along, axis=1)
    flops.charge(2 * flops.reduction_cost(length, weights.shape[0]))
    envelope = Interval(lower, upper)
    ascending = [envelope[:, j] for j in range(length)]
    rows = weights.shape[0]
    return _running_sums(ascending, rows), _running_sums(ascending[::-1], rows)


def _running_sums(columns: list[Interval], rows: int) -> Interval:
    """[rows, len(columns) + 1]: entry ``M`` encloses the sum of the first ``M`` columns (0 for M = 0)."""
    sums = [Interval.exact(np.zeros(rows))]
    for column in columns:
        sums.append(column if len(sums) == 1 else sums[-1] + column)
    return Interval.stack(sums, axis=1)


def shares(parts: Interval) -> Interval:
    """Enclosures of ``u_i / sum_j u_j`` for parts ``u`` [K, ...] enclosing NONNEGATIVE reals with a positive sum.

    With ``R_i = sum_{j != i} u_j`` the share ``u_i / (u_i + R_i)`` increases with ``u_i`` and decreases with
    ``R_i``, so it lies in ``[u_i.lo / (u_i.lo + R_i.hi), u_i.hi / (u_i.hi + R_i.lo)]`` (the tight enclosure
    of SPEC 2), with negative lower endpoints clamped at 0. Each endpoint is one correctly rounded sum and
    one quotient, rounded outward by :func:`checker.interval.down` / ``up``: ``down(a / up(b + c)) <=
    a / (b + c)`` for ``a >= 0``. Where the rounded-down denominator of the upper end is not positive, the
    upper end is 1 (every share is at most 1); NaN or infinite inputs give NaN (not certified).
    """
    count = parts.shape[0]
    clamped = Interval(np.maximum(parts.lo, 0.0), parts.hi)
    result_lo, result_hi = [], []
    for index in range(count):
        others = [clamped[j] for j in range(count) if j != index]
        rest = others[0]
        for other in others[1:]:
            rest = rest + other
        part = clamped[index]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # overflow gives NaN: not certified
            upper_denominator = down(part.hi + np.maximum(rest.lo, 0.0))
            result_lo.append(down(part.lo / up(part.lo + rest.hi)))
            upper = up(part.hi / upper_denominator)
        result_hi.append(np.where(upper_denominator <= 0, 1.0, upper))
    lo = np.maximum(np.stack(result_lo), 0.0)
    hi = np.minimum(np.stack(result_hi), 1.0)
    flops.charge(2 * lo.size)
    return Interval(lo, hi)


def extreme_attention(
    smallest: Interval,
    largest: Interval,
    rows: np.ndarray,
    max_slots: np.ndarray,
    max_factor: Interval,
    other_factor: Interval,
    query_weight: Interval,
) -> Interval:
    """Enclosures [2, 3, cases] of the shares (max, other, query) in configurations ``LO`` and ``HI``.

    ``smallest``, ``largest`` [R, L+1] come from :func:`extreme_slot_sums`; case ``i`` uses row ``rows[i]``,
    ``max_slots[i] = M`` in ``0..L`` and the factors ``max_factor[i]``, ``other_factor[i]``,
    ``query_weight[i]`` (enclosures of positive reals). Configuration LO has ``X`` = the smallest ``M``-sum
    and ``Y`` = the largest ``(L-M)``-sum (the complement of the ``M`` smallest positions is the ``L-M``
    largest); HI the reverse. The module docstring shows why the two configurations are the extremes.
    """
    length = smallest.shape[1] - 1
    other_slots = length - max_slots
    configurations = []
    for max_sums, other_sums in ((smallest, largest), (largest, smallest)):
        on_max = max_factor * max_sums[rows, max_slots]
        on_other = other_factor * other_sums[rows, other_slots]
        parts = Interval.stack([on_max, on_other, query_weight])
        configurations.append(shares(parts))
    return Interval.stack(configurations)
