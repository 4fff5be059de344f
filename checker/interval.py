"""Interval arithmetic on float64 arrays with rigorous outward rounding.

An :class:`Interval` is a pair of float64 arrays ``lo <= hi`` that encloses an array of real numbers.
Every operation returns an enclosure of the exact real result for every choice of reals inside the
operands. The guarantees rest on three facts, all in round-to-nearest (asserted by :mod:`checker.fpenv`):

1. A correctly rounded operation (numpy's ``+ - * / sqrt`` on float64) returns ``c = fl(x)`` with
   ``pred(c) <= x <= succ(c)``.
2. For finite ``c``, ``down(c) = c - (|c| * PHI + ETA) <= pred(c)`` and
   ``up(c) = c + (|c| * PHI + ETA) >= succ(c)``, with ``PHI = 2^-53 + 2^-105`` and ``ETA = 2^-1074``,
   each evaluated in floating point (Rump, Zimmermann, Boldo, Melquiond, BIT 2009, Algorithm 3.5).
3. A sum of L floats, in any order, satisfies ``|fl(sum) - sum| <= gamma_{L-1} * sum |x_i|`` with
   ``gamma_k = k u / (1 - k u)`` and ``u = 2^-53`` (Higham, Accuracy and Stability, Lemma 3.1 and
   eq. 4.4); it holds with underflow because floating-point addition is exact when its result is
   subnormal.

Non-finite values are never trusted: an overflow to infinity or an undefined operation produces
``inf``/``NaN`` endpoints, and every predicate of this module (``lo > x``) is written so that NaN means
"not certified". Endpoints are never passed through NaN-dropping reductions.

Every operation charges the active :mod:`checker.flops` counter with the cost of the one real
operation it encloses (cost model v1).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from checker import flops, rexp

PHI = 2.0**-53 + 2.0**-105
ETA = 2.0**-1074
UNIT_ROUNDOFF = Fraction(1, 2**53)


def down(c: np.ndarray) -> np.ndarray:
    """A float64 lower bound of every real whose round-to-nearest value is ``c`` (finite ``c``)."""
    return c - (np.abs(c) * PHI + ETA)


def up(c: np.ndarray) -> np.ndarray:
    """A float64 upper bound of every real whose round-to-nearest value is ``c`` (finite ``c``)."""
    return c + (np.abs(c) * PHI + ETA)


def gamma_upper(k: int) -> float:
    """A float64 upper bound of ``gamma_k / (1 - gamma_k)`` (0 for k = 0), computed exactly.

    With ``S = fl(sum |x_i|)`` over L terms, ``sum |x_i| <= S / (1 - gamma_{L-1})``, so the rounding
    error of any float sum of the ``x_i`` is at most ``gamma_upper(L-1) * S`` (before rounding that
    product, which callers round upward).
    """
    if k <= 0:
        return 0.0
    if k * UNIT_ROUNDOFF >= Fraction(1, 2):
        raise ValueError(f"sum of {k + 1} terms is too long for the gamma bound")
    gamma = k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)
    exact = gamma / (1 - gamma)
    approx = float(exact)
    return approx if Fraction(approx) >= exact else float(np.nextafter(approx, np.inf))


def sum_error_bound(abs_sum: np.ndarray, terms: int) -> np.ndarray:
    """Upper bound of ``|fl(sum) - sum|`` for a float sum of ``terms`` items whose |.|-sum is ``abs_sum``.

    ``abs_sum`` must be the floating-point sum of the absolute values of the same items (any order).
    """
    return up(up(abs_sum) * gamma_upper(terms - 1))


@dataclass(frozen=True)
class Interval:
    """An enclosure ``lo <= x <= hi`` of an array of reals (float64 endpoints, same shape)."""

    lo: np.ndarray
    hi: np.ndarray

    # Make numpy defer to the reflected operators: without this, ``array + interval`` would build an
    # object array with one whole Interval per array element instead of calling ``__radd__``.
    __array_ufunc__ = None

    # ----------------------------------------------------------------- construction and shape
    @staticmethod
    def exact(values: np.ndarray | float) -> Interval:
        """The point interval of float values (float32 and float64 convert exactly)."""
        array = np.asarray(values, dtype=np.float64)
        return Interval(array, array.copy())

    @staticmethod
    def concatenate(parts: list[Interval], axis: int = 0) -> Interval:
        return Interval(
            np.concatenate([p.lo for p in parts], axis=axis), np.concatenate([p.hi for p in parts], axis=axis)
        )

    @staticmethod
    def stack(parts: list[Interval], axis: int = 0) -> Interval:
        return Interval(
            np.stack([p.lo for p in parts], axis=axis), np.stack([p.hi for p in parts], axis=axis)
        )

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
        return Interval(self.lo.reshape(*shape), self.hi.reshape(*shape))

    def swapaxes(self, a: int, b: int) -> Interval:
        return Interval(self.lo.swapaxes(a, b), self.hi.swapaxes(a, b))

    def broadcast_to(self, shape: tuple[int, ...]) -> Interval:
        return Interval(np.broadcast_to(self.lo, shape), np.broadcast_to(self.hi, shape))

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

    def __rtruediv__(self, other: Interval | float) -> Interval:
        return _as_interval(other) / self

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
        """exp(x), enclosed with the proven kernel of :mod:`checker.rexp`."""
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
        """Enclosure of the maximum over one axis: exact on endpoints (NaN propagates)."""
        length = self.lo.shape[axis]
        lo, hi = self.lo.max(axis=axis), self.hi.max(axis=axis)
        flops.charge(flops.reduction_cost(length, lo.size))
        return Interval(lo, hi)

    def min(self, axis: int) -> Interval:
        """Enclosure of the minimum over one axis: exact on endpoints (NaN propagates)."""
        length = self.lo.shape[axis]
        lo, hi = self.lo.min(axis=axis), self.hi.min(axis=axis)
        flops.charge(flops.reduction_cost(length, lo.size))
        return Interval(lo, hi)

    def matmul(self, other: Interval) -> Interval:
        """(a x k) @ (k x b): elementwise product enclosures summed with the gamma bound.

        Charged as a*b*(2k-1); the elementwise products and the sum are not charged again.
        """
        rows, inner = self.shape
        inner_other, cols = other.shape
        if inner != inner_other:
            raise ValueError(f"matmul shapes {self.shape} and {other.shape} do not match")
        counter_free = _uncharged(lambda: (self[:, :, None] * other[None, :, :]).sum(axis=1))
        flops.charge(flops.matmul_cost(rows, inner, cols))
        return counter_free

    # ----------------------------------------------------------------- certified predicates
    def certainly_positive(self) -> np.ndarray:
        """Boolean mask of entries proven > 0 (NaN gives False)."""
        flops.charge(self.size)
        return self.lo > 0

    def certainly_negative(self) -> np.ndarray:
        """Boolean mask of entries proven < 0 (NaN gives False)."""
        flops.charge(self.size)
        return self.hi < 0


def _as_interval(value: Interval | float | np.ndarray) -> Interval:
    if isinstance(value, Interval):
        return value
    return Interval.exact(value)


def _uncharged(compute):
    """Run ``compute`` without charging the active counter (its cost is charged by the caller)."""
    with flops.counting():
        return compute()
