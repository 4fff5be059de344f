"""Exact rational linear algebra on float32 weights, rounded once to float64 intervals.

An :class:`ExactMatrix` is the exact real array ``ints * 2**exponent`` with ``ints`` a numpy object
array of Python ints. Every float32 value is such a number, and sums and products of them stay such
numbers, so products of weight matrices are computed with no rounding at all (SPEC section 2: no trust
in BLAS). :meth:`ExactMatrix.to_interval` then rounds each entry, or each entry divided by
``sqrt(scale_squared)``, ONCE to a float64 interval ``[lo, hi]`` with ``lo <= value <= hi`` and ``lo``,
``hi`` equal or adjacent floats, decided by exact integer comparisons.

Arithmetic charges the active :mod:`checker.kernel.flops` counter as real arithmetic (cost model v2):
an elementwise sum or difference one FLOP per output entry, a product (a x k)(k x b) a*b*(2k-1),
and :meth:`ExactMatrix.to_interval` with a scale other than 1 one square root plus one division per entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from checker.kernel import flops
from checker.kernel.interval import Interval

DBL_MAX = float(np.finfo(np.float64).max)
FLOAT32_MANTISSA_BITS = 24


@dataclass(frozen=True)
class ExactMatrix:
    """The exact real array ``ints * 2**exponent`` (``ints``: object array of Python ints)."""

    ints: np.ndarray
    exponent: int

    @staticmethod
    def from_float32(array: np.ndarray) -> ExactMatrix:
        """The exact value of a finite float32 array (TypeError for another dtype, which would have to be
        rounded first; ValueError for NaN or inf)."""
        values = np.asarray(array)
        if values.dtype != np.float32:
            raise TypeError(f"expected a float32 array, got {values.dtype}")
        if not np.isfinite(values).all():
            raise ValueError("weights must be finite")
        significands, exponents = np.frexp(values)
        # Every float32 is an integer below 2^24 times 2^(exponent - 24).
        mantissas = (significands.astype(np.float64) * 2**FLOAT32_MANTISSA_BITS).astype(np.int64)
        exponents = exponents.astype(np.int64) - FLOAT32_MANTISSA_BITS
        nonzero = mantissas != 0
        common = int(exponents[nonzero].min()) if nonzero.any() else 0
        ints = [
            int(m) << int(e - common) if m else 0
            for m, e in zip(mantissas.ravel(), exponents.ravel(), strict=True)
        ]
        return ExactMatrix(_object_array(ints, values.shape), common)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ints.shape

    def read_only(self) -> ExactMatrix:
        """The same matrix with its integer array made read-only (for values shared between replays)."""
        self.ints.setflags(write=False)
        return self

    @property
    def T(self) -> ExactMatrix:
        return ExactMatrix(self.ints.T, self.exponent)

    def as_row(self) -> ExactMatrix:
        """A vector of length m as a (1 x m) matrix (broadcasts over rows)."""
        return ExactMatrix(self.ints.reshape(1, -1), self.exponent)

    def __getitem__(self, index) -> ExactMatrix:
        return ExactMatrix(np.asarray(self.ints[index], dtype=object), self.exponent)

    def _aligned(self, other: ExactMatrix) -> tuple[np.ndarray, np.ndarray, int]:
        common = min(self.exponent, other.exponent)
        left = self.ints * (1 << (self.exponent - common))
        return left, other.ints * (1 << (other.exponent - common)), common

    def __add__(self, other: ExactMatrix) -> ExactMatrix:
        """Exact elementwise sum (numpy broadcasting); one FLOP per output entry."""
        left, right, common = self._aligned(other)
        result = left + right
        flops.charge(result.size)
        return ExactMatrix(result, common)

    def times(self, factor: int) -> ExactMatrix:
        """The exact product by an integer; one FLOP per entry."""
        flops.charge(self.ints.size)
        return ExactMatrix(self.ints * int(factor), self.exponent)

    def column_sums(self) -> ExactMatrix:
        """The exact (1 x m) sums of the rows of an (r x m) matrix; (r - 1) FLOPs per column."""
        rows, cols = self.shape
        flops.charge(flops.reduction_cost(rows, cols))
        return ExactMatrix(self.ints.sum(axis=0, keepdims=True) if rows else np.zeros((1, cols), dtype=object),
                           self.exponent)

    def __matmul__(self, other: ExactMatrix) -> ExactMatrix:
        """Exact (a x k) @ (k x b) product; charges a*b*(2k-1)."""
        rows, inner = self.shape
        inner_other, cols = other.shape
        if inner != inner_other:
            raise ValueError(f"matmul shapes {self.shape} and {other.shape} do not match")
        flops.charge(flops.matmul_cost(rows, inner, cols))
        return ExactMatrix(np.dot(self.ints, other.ints), self.exponent + other.exponent)

    def to_interval(self, scale_squared: Fraction | None = None) -> Interval:
        """The tightest float64 enclosure of ``value`` (or ``value / sqrt(scale_squared)``) per entry.

        For each entry, ``lo <= exact <= hi`` with ``lo == hi`` when the exact value is a float and
        ``hi = nextafter(lo, inf)`` otherwise; values beyond DBL_MAX give ``[DBL_MAX, inf]`` (and the
        mirror). ``scale_squared`` must be a positive rational.
        """
        if scale_squared is None or scale_squared == 1:
            numerator, denominator = 1, 1  # no division is executed, and none is charged
        else:
            scale_squared = Fraction(scale_squared)
            if scale_squared <= 0:
                raise ValueError("scale_squared must be positive")
            numerator, denominator = scale_squared.numerator, scale_squared.denominator
            flops.charge(1 + self.ints.size)
        values = self.ints.ravel()
        lo, hi = np.empty(values.size), np.empty(values.size)
        slow = np.ones(values.size, dtype=bool)
        if numerator == denominator:
            slow = _enclose_dyadic(values, self.exponent, lo, hi)
        for index in np.flatnonzero(slow):
            lo[index], hi[index] = _enclose(int(values[index]), self.exponent, numerator, denominator)
        return Interval(lo.reshape(self.shape), hi.reshape(self.shape))


def inverse_square_root(square: Fraction) -> Interval:
    """The tightest float64 enclosure (0-d) of ``1 / sqrt(square)`` for a positive rational ``square``;
    one square root and one division."""
    one = ExactMatrix(_object_array([1], (1, 1)), 0)
    return one.to_interval(square).reshape()


def _object_array(values: list, shape: tuple[int, ...]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


def _enclose_dyadic(values: np.ndarray, exponent: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_enclose` without a scale: fill ``lo``, ``hi`` where it is exact and return the
    mask of entries left to the scalar path.

    ``float(v)`` is the correctly rounded value of the int ``v`` and CPython compares ints with floats
    exactly, so ``[lo, hi]`` brackets ``v`` between equal or adjacent floats; multiplying by
    ``2**exponent`` keeps that exact and tight wherever both ends stay normal (or zero) and finite, which
    is checked per entry. Ints beyond the float range leave every entry to the scalar path.
    """
    try:
        nearest = values.astype(np.float64)
    except OverflowError:
        return np.ones(values.size, dtype=bool)
    above, below = values > nearest, values < nearest
    unscaled_lo = np.where(below, np.nextafter(nearest, -np.inf), nearest)
    unscaled_hi = np.where(above, np.nextafter(nearest, np.inf), nearest)
    with np.errstate(over="ignore", under="ignore"):
        lo[:], hi[:] = np.ldexp(unscaled_lo, exponent), np.ldexp(unscaled_hi, exponent)
    smallest = np.finfo(np.float64).tiny

    def exact(unscaled: np.ndarray, scaled: np.ndarray) -> np.ndarray:
        """Scaling was exact: a zero stayed zero, anything else stayed finite and normal."""
        return np.where(unscaled == 0, True, np.isfinite(scaled) & (np.abs(scaled) >= smallest))

    return ~(exact(unscaled_lo, lo) & exact(unscaled_hi, hi))


def _dyadic_to_float(mantissa: int, exponent: int) -> float:
    """The float nearest to ``mantissa * 2**exponent`` (mantissa >= 0), DBL_MAX if it overflows."""
    try:
        if exponent >= 0:
            return float(mantissa << exponent)
        return mantissa / (1 << -exponent)  # int true division is correctly rounded
    except OverflowError:
        return DBL_MAX


def _compare(g: float, magnitude: int, exponent: int, numerator: int, denominator: int) -> int:
    """Sign of ``g - magnitude * 2**exponent / sqrt(numerator / denominator)`` for g >= 0, exactly.

    Both sides are nonnegative, so it is the sign of ``g^2 * numerator - magnitude^2 * 4**exponent *
    denominator``, compared as integers after scaling by a common power of two.
    """
    g_num, g_den = g.as_integer_ratio()
    g_shift = -2 * (g_den.bit_length() - 1)  # g^2 = g_num^2 * 2^g_shift
    left = g_num * g_num * numerator
    right = magnitude * magnitude * denominator
    low = min(g_shift, 2 * exponent)
    left <<= g_shift - low
    right <<= 2 * exponent - low
    return (left > right) - (left < right)


def _candidate(magnitude: int, exponent: int, numerator: int, denominator: int) -> float:
    """A float within a few ulps of ``magnitude * 2**exponent / sqrt(numerator / denominator)``."""
    if numerator == denominator:
        return _dyadic_to_float(magnitude, exponent)
    # floor(|w| * 2^(extra - exponent)), an integer of at least 64 bits, then rounded to a float.
    size = 2 * magnitude.bit_length() + denominator.bit_length() - numerator.bit_length()
    extra = max(0, 66 - size // 2)
    root = math.isqrt((magnitude * magnitude * denominator << (2 * extra)) // numerator)
    return _dyadic_to_float(root, exponent - extra)


def _enclose(value: int, exponent: int, numerator: int, denominator: int) -> tuple[float, float]:
    """Equal or adjacent floats lo <= w <= hi, w = ``value * 2**exponent / sqrt(numerator / denominator)``."""
    if value == 0:
        return 0.0, 0.0
    magnitude = abs(value)

    def excess(g: float) -> int:
        return _compare(g, magnitude, exponent, numerator, denominator)

    g = _candidate(magnitude, exponent, numerator, denominator)
    while g > 0 and excess(g) > 0:
        g = math.nextafter(g, 0.0)
    while g < DBL_MAX and excess(math.nextafter(g, math.inf)) <= 0:
        g = math.nextafter(g, math.inf)
    lo, hi = g, (g if excess(g) == 0 else math.nextafter(g, math.inf))
    return (lo, hi) if value > 0 else (-hi, -lo)
