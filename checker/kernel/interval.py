"""Interval arithmetic on float64 arrays with rigorous outward rounding: the kernel's main type.

An :class:`Interval` is a pair of float64 arrays ``lo <= hi`` that encloses an array of real numbers.
Every operation returns an enclosure of the exact real result for every choice of reals inside the
operands; each method's docstring states its contract when it is more than that. The rounding facts
behind them are in :mod:`checker.kernel.rounding`.

Non-finite values are never trusted: an overflow to infinity or an undefined operation produces
``inf``/``NaN`` endpoints, and every predicate (``lo > 0``, ``claimed >= hi``) is written so that NaN
means "not certified". Endpoints are never passed through NaN-dropping reductions.

Only the kernel creates intervals from endpoints, rounds and counts FLOPs: strategies build intervals
with :meth:`Interval.exact` (float values, which are exact reals) and kernel operations, and read them
only through the certified predicates. Every operation charges the active :mod:`checker.kernel.flops`
counter with the cost of the one real operation it encloses (cost model v2, SPEC section 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from checker.kernel import flops, rexp
from checker.kernel.lower import LowerBound
from checker.kernel.rounding import down, sum_error_bound, up


@dataclass(frozen=True)
class Interval:
    """An enclosure ``lo <= x <= hi`` of an array of reals (float64 endpoints, same shape)."""

    lo: np.ndarray
    hi: np.ndarray

    # Make numpy defer to the reflected operators: without this, ``array + interval`` would build an
    # object array with one whole Interval per array element instead of calling ``__radd__``.
    __array_ufunc__ = None

    # ----------------------------------------------------------------- construction and shape (free)
    @staticmethod
    def exact(values: np.ndarray | float) -> Interval:
        """The point interval of float values (float16, float32 and float64 convert exactly; integers and
        booleans only if float64 holds them exactly, else ValueError)."""
        given = np.asarray(values)
        array = given.astype(np.float64)
        if given.dtype.kind != "f" and not np.array_equal(array.astype(given.dtype), given):
            raise ValueError("Interval.exact: the values are not exactly representable in float64")
        return Interval(array, array.copy())

    @staticmethod
    def concatenate(parts: Sequence[Interval], axis: int = 0) -> Interval:
        return Interval(
            np.concatenate([p.lo for p in parts], axis=axis), np.concatenate([p.hi for p in parts], axis=axis)
        )

    @staticmethod
    def stack(parts: Sequence[Interval], axis: int = 0) -> Interval:
        return Interval(np.stack([p.lo for p in parts], axis=axis), np.stack([p.hi for p in parts], axis=axis))

    @staticmethod
    def assemble(size: int, parts: Sequence[tuple[np.ndarray, Interval]]) -> Interval:
        """A vector of ``size`` enclosures: ``part`` at the positions where ``mask`` is True, for each
        ``(mask, part)``; positions no mask covers are NaN (not certified)."""
        lo, hi = np.full(size, np.nan), np.full(size, np.nan)
        for mask, part in parts:
            lo[mask], hi[mask] = part.lo, part.hi
        return Interval(lo, hi)

    @staticmethod
    def spanning(low: Interval, high: Interval) -> Interval:
        """``[low.lo, high.hi]``: encloses every real x with ``l <= x <= h`` for some real l enclosed
        by ``low`` and h enclosed by ``high``."""
        return Interval(low.lo, high.hi)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.lo.shape

    @property
    def size(self) -> int:
        return int(self.lo.size)

    @property
    def T(self) -> Interval:
        return Interval(self.lo.T, self.hi.T)

    def __getitem__(self, index) -> Interval:
        return Interval(self.lo[index], self.hi[index])

    def reshape(self, *shape: int) -> Interval:
        """The same entries in the given shape (no dimensions: a 0-d interval)."""
        return Interval(self.lo.reshape(shape), self.hi.reshape(shape))

    def broadcast_to(self, shape: tuple[int, ...]) -> Interval:
        return Interval(np.broadcast_to(self.lo, shape), np.broadcast_to(self.hi, shape))

    def lower(self) -> LowerBound:
        """The one-sided enclosure ``lo <= x`` (free): for the brute-force filter, which needs only
        lower bounds and halves its work by dropping the upper ends."""
        return LowerBound(self.lo)

    def read_only(self) -> Interval:
        """The same interval with both endpoint arrays made read-only (for values shared between replays)."""
        self.lo.setflags(write=False)
        self.hi.setflags(write=False)
        return self

    def known_nonnegative(self) -> Interval:
        """The enclosure with its lower endpoint raised to 0. Sound only for a quantity the caller knows
        to be ``>= 0`` (a sum of squares, a trace of a Gram power); the caller states why."""
        return Interval(np.maximum(self.lo, 0.0), self.hi)

    # ----------------------------------------------------------------- elementwise arithmetic
    def __neg__(self) -> Interval:
        flops.charge(self.size)
        return Interval(-self.hi, -self.lo)

    def __add__(self, other: Interval | float) -> Interval:
        other = _as_interval(other)
        lo, hi = down(self.lo + other.lo), up(self.hi + other.hi)
        flops.charge(lo.size)
        return Interval(lo, hi)

    __radd__ = __add__

    def __sub__(self, other: Interval | float) -> Interval:
        other = _as_interval(other)
        lo, hi = down(self.lo - other.hi), up(self.hi - other.lo)
        flops.charge(lo.size)
        return Interval(lo, hi)

    def __rsub__(self, other: Interval | float) -> Interval:
        return _as_interval(other) - self

    def __mul__(self, other: Interval | float) -> Interval:
        other = _as_interval(other)
        products = (self.lo * other.lo, self.lo * other.hi, self.hi * other.lo, self.hi * other.hi)
        smallest = np.minimum(np.minimum(products[0], products[1]), np.minimum(products[2], products[3]))
        largest = np.maximum(np.maximum(products[0], products[1]), np.maximum(products[2], products[3]))
        flops.charge(smallest.size)
        return Interval(down(smallest), up(largest))

    __rmul__ = __mul__

    def scale_nonnegative(self, factor: Interval) -> Interval:
        """``self * factor`` for a factor known to satisfy ``factor.lo >= 0`` (checked; else NaN).

        Two products per endpoint instead of four: for f in [fl, fh] with fl >= 0, x*f lies between
        min(lo*fl, lo*fh) and max(hi*fl, hi*fh).
        """
        valid = factor.lo >= 0
        lo = np.minimum(self.lo * factor.lo, self.lo * factor.hi)
        hi = np.maximum(self.hi * factor.lo, self.hi * factor.hi)
        flops.charge(lo.size)
        return Interval(np.where(valid, down(lo), np.nan), np.where(valid, up(hi), np.nan))

    def __truediv__(self, other: Interval | float) -> Interval:
        """Division; a divisor interval that is not strictly on one side of 0 gives [-inf, inf]."""
        other = _as_interval(other)
        safe = (other.lo > 0) | (other.hi < 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            quotients = (self.lo / other.lo, self.lo / other.hi, self.hi / other.lo, self.hi / other.hi)
        smallest = np.minimum(np.minimum(quotients[0], quotients[1]), np.minimum(quotients[2], quotients[3]))
        largest = np.maximum(np.maximum(quotients[0], quotients[1]), np.maximum(quotients[2], quotients[3]))
        flops.charge(smallest.size)
        return Interval(np.where(safe, down(smallest), -np.inf), np.where(safe, up(largest), np.inf))

    def sqrt(self) -> Interval:
        """Square root; a lower endpoint below 0 (or NaN) makes both endpoints NaN (not certified)."""
        with np.errstate(invalid="ignore"):
            lo = np.maximum(down(np.sqrt(self.lo)), 0.0)
            hi = up(np.sqrt(self.hi))
        flops.charge(lo.size)
        defined = self.lo >= 0
        return Interval(np.where(defined, lo, np.nan), np.where(defined, hi, np.nan))

    def abs(self) -> Interval:
        """|x|: exact on endpoints."""
        straddles = (self.lo < 0) & (self.hi > 0)
        lo = np.where(straddles, 0.0, np.minimum(np.abs(self.lo), np.abs(self.hi)))
        hi = np.maximum(np.abs(self.lo), np.abs(self.hi))
        flops.charge(lo.size)
        return Interval(lo, hi)

    def exp(self) -> Interval:
        """exp(x), enclosed with the proven kernel of :mod:`checker.kernel.rexp`."""
        flops.charge(self.size)
        return Interval(rexp.exp_lower(self.lo), rexp.exp_upper(self.hi))

    def maximum(self, other: Interval | float) -> Interval:
        """Elementwise max(x, y): exact on endpoints."""
        other = _as_interval(other)
        lo, hi = np.maximum(self.lo, other.lo), np.maximum(self.hi, other.hi)
        flops.charge(lo.size)
        return Interval(lo, hi)

    def minimum(self, other: Interval | float) -> Interval:
        """Elementwise min(x, y): exact on endpoints."""
        other = _as_interval(other)
        lo, hi = np.minimum(self.lo, other.lo), np.minimum(self.hi, other.hi)
        flops.charge(lo.size)
        return Interval(lo, hi)

    @staticmethod
    def where(condition: np.ndarray, if_true: Interval, if_false: Interval) -> Interval:
        """Select by a (trusted, checker-computed) boolean mask."""
        lo = np.where(condition, if_true.lo, if_false.lo)
        hi = np.where(condition, if_true.hi, if_false.hi)
        flops.charge(lo.size)
        return Interval(lo, hi)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: int) -> Interval:
        """Sum over one axis, widened by the gamma bound of the summation error (any order)."""
        length = self.lo.shape[axis]
        lo_sum, hi_sum = self.lo.sum(axis=axis), self.hi.sum(axis=axis)
        lo_err = sum_error_bound(np.abs(self.lo).sum(axis=axis), length)
        hi_err = sum_error_bound(np.abs(self.hi).sum(axis=axis), length)
        flops.charge(flops.reduction_cost(length, lo_sum.size))
        return Interval(down(lo_sum - lo_err), up(hi_sum + hi_err))

    def mean(self, axis: int) -> Interval:
        """Mean over one axis: the sum, then one division per output."""
        return self.sum(axis) / float(self.lo.shape[axis])

    def max(self, axis: int) -> Interval:
        """Enclosure of the maximum over one axis: exact on endpoints (NaN propagates; ``-inf``, the
        maximum of nothing, over an empty axis)."""
        return self._extreme(np.max, axis, -np.inf)

    def min(self, axis: int) -> Interval:
        """Enclosure of the minimum over one axis: exact on endpoints (``inf`` over an empty axis)."""
        return self._extreme(np.min, axis, np.inf)

    def _extreme(self, reduce, axis: int, empty: float) -> Interval:
        length = self.lo.shape[axis]
        lo = reduce(self.lo, axis=axis, initial=empty) if length == 0 else reduce(self.lo, axis=axis)
        hi = reduce(self.hi, axis=axis, initial=empty) if length == 0 else reduce(self.hi, axis=axis)
        flops.charge(flops.reduction_cost(length, lo.size))
        return Interval(lo, hi)

    def row_range(self) -> Interval:
        """Enclosure of ``max_j x[..., j] - min_j x[..., j]`` (the range along the last axis)."""
        return self.max(axis=-1) - self.min(axis=-1)

    def running_max(self) -> Interval:
        """Enclosure of the running maximum ``max_{j <= t} x[..., j]`` along the last axis."""
        return self._running(np.maximum.accumulate)

    def running_min(self) -> Interval:
        """Enclosure of the running minimum ``min_{j <= t} x[..., j]`` along the last axis."""
        return self._running(np.minimum.accumulate)

    def _running(self, accumulate) -> Interval:
        flops.charge(flops.reduction_cost(self.shape[-1], self.size // max(self.shape[-1], 1)))
        return Interval(accumulate(self.lo, axis=-1), accumulate(self.hi, axis=-1))

    def prefix_sums(self) -> Interval:
        """[..., L+1] for x [..., L]: entry ``M`` encloses ``sum_{j < M} x[..., j]`` (exactly 0 for M = 0)."""
        sums = [Interval.exact(np.zeros(self.shape[:-1]))]
        for j in range(self.shape[-1]):
            sums.append(self[..., j] if j == 0 else sums[-1] + self[..., j])
        return Interval.stack(sums, axis=-1)

    def sorted_envelope(self, order: np.ndarray) -> Interval:
        """[R, L] for x [R, L]: column ``j`` encloses ``s_j``, the j-th smallest (0-based) of row r, for a
        per-row permutation ``order`` [R, L] of ``0..L-1`` (a hint, meant to sort the rows; ValueError if
        a row is not a permutation).

        Along the hint, ``lo'_j = min_{i >= j} lo[order_i]`` and ``hi'_j = max_{i <= j} hi[order_i]``: a set
        of ``L - j`` entries has its minimum at most ``s_j`` and a set of ``j + 1`` entries its maximum at
        least ``s_j``, so ``lo'_j <= s_j <= hi'_j`` for EVERY permutation; a sorting one loses nothing. The
        two running scans cost ``2 (L - 1)`` comparisons per row (the supplied sort is checked, in effect,
        by making it true).
        """
        rows, length = self.shape
        if order.shape != (rows, length) or np.any(np.sort(order, axis=1) != np.arange(length)):
            raise ValueError("sorted_envelope needs a permutation of 0..L-1 per row")
        row_index = np.arange(rows)[:, None]
        lo_along, hi_along = self.lo[row_index, order], self.hi[row_index, order]
        lower = np.minimum.accumulate(lo_along[:, ::-1], axis=1)[:, ::-1]
        upper = np.maximum.accumulate(hi_along, axis=1)
        flops.charge(2 * flops.reduction_cost(length, rows))
        return Interval(lower, upper)

    def anchor(self, axis: int) -> Interval:
        """A point interval (an exact float) at the largest lower endpoint along ``axis``, kept as a
        length-1 axis: a shift for softmax exponents, where any real is sound and one near the top keeps
        the exponents small. Charged as the max reduction it is."""
        length = self.shape[axis]
        point = self.lo.max(axis=axis, keepdims=True)
        flops.charge(flops.reduction_cost(length, point.size))
        return Interval.exact(point)

    def matmul(self, other: Interval) -> Interval:
        """(a x k) @ (k x b): elementwise product enclosures summed with the gamma bound.

        Charged as a*b*(2k-1); the elementwise products and the sum are not charged again.
        """
        rows, inner = self.shape
        inner_other, cols = other.shape
        if inner != inner_other:
            raise ValueError(f"matmul shapes {self.shape} and {other.shape} do not match")
        with flops.counting():
            product = (self[:, :, None] * other[None, :, :]).sum(axis=1)
        flops.charge(flops.matmul_cost(rows, inner, cols))
        return product

    @staticmethod
    def shares(parts: Interval) -> Interval:
        """Enclosures of ``u_i / sum_j u_j`` for K >= 2 parts ``u`` [K, ...] enclosing NONNEGATIVE reals with
        a positive sum (ValueError for fewer parts).

        With ``R_i = sum_{j != i} u_j`` the share ``u_i / (u_i + R_i)`` increases with ``u_i`` and
        decreases with ``R_i``, so it lies in ``[u_i.lo / (u_i.lo + R_i.hi), u_i.hi / (u_i.hi + R_i.lo)]``
        (the tight enclosure of SPEC 2), with negative lower endpoints clamped at 0. Each endpoint is one
        correctly rounded sum and one quotient, rounded outward: ``down(a / up(b + c)) <= a / (b + c)``
        for ``a >= 0``. Where the rounded-down denominator of the upper end is not positive, the upper
        end is 1 (every share is at most 1); NaN or infinite inputs give NaN (not certified).
        """
        count = parts.shape[0]
        if count < 2:
            raise ValueError("shares need at least two parts")
        clamped = parts.known_nonnegative()
        result_lo, result_hi = [], []
        for index in range(count):
            others = [clamped[j] for j in range(count) if j != index]
            rest = others[0]
            for other in others[1:]:
                rest = rest + other
            part = clamped[index]
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # overflow gives NaN
                upper_denominator = down(part.hi + np.maximum(rest.lo, 0.0))
                result_lo.append(down(part.lo / up(part.lo + rest.hi)))
                upper = up(part.hi / upper_denominator)
            result_hi.append(np.where(upper_denominator <= 0, 1.0, upper))
        lo = np.maximum(np.stack(result_lo), 0.0)
        hi = np.minimum(np.stack(result_hi), 1.0)
        flops.charge(2 * lo.size)
        return Interval(lo, hi)

    # ----------------------------------------------------------------- certified predicates
    def bounded_above_by(self, claimed: np.ndarray) -> np.ndarray:
        """Boolean mask of entries whose real is proven <= ``claimed`` (``claimed >= hi``; NaN gives False)."""
        flops.charge(self.size)
        return np.asarray(claimed, dtype=np.float64) >= self.hi

    def strictly_below(self, value: float) -> np.ndarray:
        """Boolean mask of entries whose real is proven < ``value`` (``hi < value``; NaN gives False)."""
        flops.charge(self.size)
        return self.hi < value

    def bounded_below_by(self, claimed: np.ndarray) -> np.ndarray:
        """Boolean mask of entries whose real is proven >= ``claimed`` (``claimed <= lo``; NaN gives False)."""
        flops.charge(self.size)
        return np.asarray(claimed, dtype=np.float64) <= self.lo

    def describe(self, index: tuple[int, ...]) -> str:
        """The enclosure of one entry as text, for a diagnostic message (never computed with)."""
        return f"[{float(self.lo[index])!r}, {float(self.hi[index])!r}]"


def _as_interval(value: Interval | float | np.ndarray) -> Interval:
    if isinstance(value, Interval):
        return value
    return Interval.exact(value)
