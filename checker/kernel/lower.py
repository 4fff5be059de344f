"""One-sided enclosures: rigorous lower bounds of arrays of reals, for the brute-force filter.

A :class:`LowerBound` holds float64 ``lo`` with ``lo <= x`` for an array of reals ``x``. The brute force
only ever needs lower bounds of margins (a sequence is certified when a lower bound of its margin is
positive), so it drops the upper ends and does half the work of :class:`checker.kernel.interval.Interval`
arithmetic. Every operation rounds outward (:mod:`checker.kernel.rounding`) and charges the one real
operation it encloses; NaN means "not certified" in every predicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from checker.kernel import flops
from checker.kernel.rounding import down, sum_error_bound

if TYPE_CHECKING:
    from checker.kernel.interval import Interval


@dataclass(frozen=True)
class LowerBound:
    """Rigorous lower bounds ``lo <= x`` of an array of reals."""

    lo: np.ndarray

    __array_ufunc__ = None  # numpy defers to the reflected operators (see Interval)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.lo.shape

    @property
    def size(self) -> int:
        return int(self.lo.size)

    def __getitem__(self, index) -> LowerBound:
        return LowerBound(self.lo[index])

    def __add__(self, other: LowerBound) -> LowerBound:
        """``x + y >= fl(lo_x + lo_y)`` rounded down."""
        total = down(self.lo + other.lo)
        flops.charge(total.size)
        return LowerBound(total)

    def __sub__(self, other: Interval) -> LowerBound:
        """``x - y >= fl(lo_x - hi_y)`` rounded down, for y enclosed by the interval ``other``."""
        difference = down(self.lo - other.hi)
        flops.charge(difference.size)
        return LowerBound(difference)

    def weighted(self, weights: Interval) -> LowerBound:
        """Lower bounds of ``e * x`` for reals ``e`` enclosed by ``weights`` with ``weights.lo >= 0``
        (checked; else NaN), broadcast over the trailing axes of ``self``.

        With ``0 <= e_lo <= e <= e_hi``: ``e x >= e_lo lo`` when ``lo >= 0`` and ``e x >= e_hi lo`` when
        ``lo < 0``.
        """
        index = (Ellipsis,) + (None,) * (self.lo.ndim - weights.lo.ndim)
        low, high = weights.lo[index], weights.hi[index]
        factor = np.where(self.lo >= 0, low, high)
        flops.charge(self.size)
        return LowerBound(np.where(low >= 0, down(factor * self.lo), np.nan))

    def min(self, axis: int, *, without: tuple | None = None) -> LowerBound:
        """Lower bounds of the minimum over ``axis`` of the entries, leaving out the entries at the index
        ``without`` of the full array, which must name exactly one entry of each minimised vector (e.g.
        the correct output among the competitors). Charged as a minimum over the entries left."""
        values, length = self.lo, self.lo.shape[axis]
        if without is not None:
            values = values.copy()
            values[without] = np.inf  # the identity of min: a left-out entry never decides it
            length -= 1
        flops.charge(flops.reduction_cost(length, values.size // max(values.shape[axis], 1)))
        return LowerBound(values.min(axis=axis))

    def sum_certainly_positive(self, axis: int) -> np.ndarray:
        """Boolean mask: the sum over ``axis`` of the reals is proven > 0.

        ``fl(sum lo) > err`` with ``err`` the gamma bound of that very float sum gives
        ``sum lo > 0``, and ``sum x >= sum lo``. Charged as the sum and one comparison per output.
        """
        length = self.lo.shape[axis]
        total, magnitude = self.lo.sum(axis=axis), np.abs(self.lo).sum(axis=axis)
        flops.charge(total.size * max(length, 1))
        return total > sum_error_bound(magnitude, length)

    @staticmethod
    def outer_sum_certainly_positive(parts: Sequence[LowerBound]) -> np.ndarray:
        """Boolean grid ``[len(p) for the 1-d parts]``: ``sum_j x_j[i_j]`` (0-d parts added to every
        cell) proven > 0, as in :meth:`sum_certainly_positive`. Charged ``len(parts)`` per cell."""
        total, magnitude = np.zeros(()), np.zeros(())
        axes = sum(part.lo.ndim for part in parts)
        axis = 0
        for part in parts:
            shape = [1] * axes
            if part.lo.ndim:
                shape[axis] = part.lo.size
                axis += 1
            total = total + part.lo.reshape(shape)
            magnitude = magnitude + np.abs(part.lo).reshape(shape)
        flops.charge(total.size * len(parts))
        return total > sum_error_bound(magnitude, len(parts))
