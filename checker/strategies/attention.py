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

from checker.kernel import Interval

LO, HI = 0, 1
"""Configuration axis of :func:`extreme_attention`: max tokens on the lowest / highest positional weights."""


def extreme_slot_sums(weights: Interval, order: np.ndarray) -> tuple[Interval, Interval]:
    """Enclosures of the smallest and largest sums of ``M`` of the ``L`` weights, ``M = 0..L``.

    ``weights`` [R, L] encloses reals ``x_p``; ``order`` [R, L] is any permutation of ``0..L-1`` per row
    (a hint, meant to sort the row ascending). Returns ``smallest, largest`` [R, L+1] with

        smallest[r, M]  contains  min_{|S| = M} sum_{p in S} x[r, p],
        largest[r, M]   contains  max_{|S| = M} sum_{p in S} x[r, p],

    for EVERY permutation: ``min_S sum x`` is the sum of the ``M`` smallest reals and ``max_S`` that of the
    ``M`` largest, whose enclosures are prefix sums of the sorted envelope
    (:meth:`checker.kernel.Interval.sorted_envelope`) read from either end.
    """
    envelope = weights.sorted_envelope(order)
    return envelope.prefix_sums(), envelope[:, ::-1].prefix_sums()


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
        configurations.append(Interval.shares(Interval.stack([on_max, on_other, query_weight])))
    return Interval.stack(configurations)
