"""Rigorous enclosure of the real exponential on float64 arrays.

Guarantee, for every float64 x (read as a real number, exp the exact real exponential):

    exp_lower(x) <= exp(x) <= exp_upper(x),

with NaN in -> NaN out, [DBL_MAX, inf] for x >= 710 (exp(710) > DBL_MAX) and [0, 2^-1074] for
x <= -746 (exp(-746) < 2^-1074). numpy's exp is never used: its accuracy is undocumented.

Kernel (SPEC section 2), for -746 < x < 710, every step a correctly rounded float64 operation:

1. k = rint(fl(x * INV_LN2)), an integer with |k| <= K_MAX = 1077.
2. Cody-Waite: t1 = x - k * LN2_HEAD is exact (LN2_HEAD has 32 significant bits, so k * LN2_HEAD is a
   float; for k != 0, |x| > 1/4 makes x a multiple of 2^-54 and |t1| < 1/2, so t1 is a float; for
   k = 0, t1 = x). Then r = fl(t1 - fl(k * LN2_TAIL)).
3. p = Horner evaluation of sum_{i<=13} C_i r^i with C_i = fl(1/i!).
4. y = fl(p * FACTOR), FACTOR just below (lower) or above (upper) 1 (see below).
5. y * 2^k as fl(fl(y * 2^k1) * 2^k2), k1 = floor(k/2), k2 = k - k1: both powers of two are normal
   floats, the first product is exact, the second is exact unless it overflows (inf) or is
   subnormal (error <= 2^-1075); hence the final -ETA (lower, then max with 0 and min with DBL_MAX)
   and +ETA (upper), ETA = 2^-1074.

Error bound, derived once at import with exact rationals (``fractions.Fraction``), u = 2^-53:

* Reduction. |fl(x c) - x/ln2| <= u |x| c + ETA/2 + |x| |c - 1/ln2| =: dk with c = INV_LN2, so
  |r_true| <= ln2 (1/2 + dk) where r_true = x - k ln2. With d_ln2 >= |ln2 - LN2_HEAD - LN2_TAIL|,
  r - r_true = k (ln2 - LN2_HEAD - LN2_TAIL) - err(k LN2_TAIL) + err(t1 - t2), so
  |r - r_true| <= DELTA = K_MAX d_ln2 + u K_MAX |LN2_TAIL| + u 7/20 and |r| <= R = ln2 (1/2 + dk) + DELTA
  (import checks R <= 7/20, about 0.3466). ln2 is enclosed by 40-digit decimal bounds.
* Polynomial. For each piece [a, b] of a cover of [-R, R], a Horner error recursion in interval
  arithmetic over the rationals: s_13 = C_13; s_i = fl(fl(s_{i+1} r) + C_i) lies in an interval
  I_i and differs from the exact Horner value h_i(r) by at most
  e_i = e_{i+1} rho + (u |I_{i+1} [a, b]| + ETA/2) + u |I_{i+1} [a, b] + C_i|,   rho = max(|a|, |b|)
  (|fl(z) - z| <= u |z| + ETA/2 for a product, <= u |z| for a sum, since sums that underflow are
  exact). Adding the coefficient error sum_i |C_i - 1/i!| rho^i and the Taylor remainder
  rho^14 / 14! * exp(max(b, 0)), and dividing by a lower bound of exp(a), bounds |p - exp(r)| / exp(r)
  on the piece; B_POLY is the maximum over pieces.
* Together: |p - exp(r_true)| <= B exp(r_true) with B = B_POLY e^DELTA + (e^DELTA - 1)
  (:data:`RELATIVE_ERROR_BOUND`, about 2.4 u). So exp(r_true) lies in [p / (1 + B), p / (1 - B)].
  LOWER_FACTOR <= 1 / ((1 + B)(1 + u)) and UPPER_FACTOR >= 1 / ((1 - B)(1 - u)) absorb the rounding
  of step 4 (p FACTOR is a normal number), and exp(x) = exp(r_true) 2^k.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

DBL_MAX = float(np.finfo(np.float64).max)
ETA = 2.0**-1074
OVERFLOW_THRESHOLD = 710.0
UNDERFLOW_THRESHOLD = -746.0
DEGREE = 13
K_MAX = 1077  # |k| <= 746 / ln2 + 1/2 + tiny (checked at import)

_U = Fraction(1, 2**53)
_ETA = Fraction(ETA)
LN2_LOWER = Fraction("0.6931471805599453094172321214581765680755")
LN2_UPPER = LN2_LOWER + Fraction(1, 10**40)
_X_MAX = Fraction(746)

INV_LN2 = float(1 / LN2_LOWER)
LN2_HEAD = float(Fraction(math.floor(LN2_LOWER * 2**32), 2**32))
LN2_TAIL = float(LN2_LOWER - Fraction(LN2_HEAD))
COEFFICIENTS = tuple(float(Fraction(1, math.factorial(i))) for i in range(DEGREE + 1))


def _taylor_sum(y: Fraction, degree: int = 20) -> tuple[Fraction, Fraction]:
    """(sum_{i<=degree} y^i / i!, y^degree / degree!) exactly."""
    term, total = Fraction(1), Fraction(1)
    for i in range(1, degree + 1):
        term = term * y / i
        total += term
    return total, term


def _exp_upper_small(y: Fraction) -> Fraction:
    """A rational upper bound of exp(y) for 0 <= y <= 1/2 (remainder <= e^y y^21/21! <= 2 y^21/21!)."""
    total, last = _taylor_sum(y)
    return total + 2 * last * y / 21


def _exp_lower_small(y: Fraction) -> Fraction:
    """A rational lower bound of exp(y) for |y| <= 1/2 (all Taylor terms are positive for y >= 0)."""
    return 1 / _exp_upper_small(-y) if y < 0 else _taylor_sum(y)[0]


def _ceil_dyadic(value: Fraction, bits: int = 1100) -> Fraction:
    """The least multiple of 2^-bits that is >= value (keeps the rationals below small)."""
    return Fraction(-((-value.numerator << bits) // value.denominator), 1 << bits)


def _floor_dyadic(value: Fraction, bits: int = 1100) -> Fraction:
    """The greatest multiple of 2^-bits that is <= value."""
    return Fraction((value.numerator << bits) // value.denominator, 1 << bits)


def _reduction_bounds() -> tuple[Fraction, Fraction]:
    """(R, DELTA): |r| <= R for every computed r, and |r - r_true| <= DELTA."""
    inv_ln2 = Fraction(INV_LN2)
    inv_err = max(abs(inv_ln2 - 1 / LN2_LOWER), abs(inv_ln2 - 1 / LN2_UPPER))
    dk = _U * _X_MAX * inv_ln2 + _ETA / 2 + _X_MAX * inv_err
    r_true = LN2_UPPER * (Fraction(1, 2) + dk)
    split = Fraction(LN2_HEAD) + Fraction(LN2_TAIL)
    d_ln2 = max(abs(LN2_LOWER - split), abs(LN2_UPPER - split))
    delta = K_MAX * d_ln2 + _U * K_MAX * abs(Fraction(LN2_TAIL)) + _U * Fraction(7, 20)
    head_err = max(abs(LN2_LOWER - Fraction(LN2_HEAD)), abs(LN2_UPPER - Fraction(LN2_HEAD)))
    if _X_MAX / LN2_LOWER + dk + Fraction(1, 2) > K_MAX:
        raise AssertionError("|k| may exceed K_MAX")
    exact_head = (
        (Fraction(LN2_HEAD) * 2**32).denominator == 1  # k * LN2_HEAD has <= 43 significant bits
        and LN2_LOWER * (Fraction(1, 2) - dk) > Fraction(1, 4)  # k != 0 implies |x| > 1/4
        and r_true + K_MAX * head_err < Fraction(1, 2)  # |x - k LN2_HEAD| < 1/2
    )
    if not exact_head:
        raise AssertionError("Cody-Waite split does not make x - k * LN2_HEAD exact")
    bound = _ceil_dyadic(r_true + delta, 64)
    if bound > Fraction(7, 20):
        raise AssertionError("argument reduction bound exceeds the 7/20 used for DELTA")
    return bound, delta


def _horner_error(a: Fraction, b: Fraction) -> Fraction:
    """Bound of |computed Horner value - exact Horner value| for every float r in [a, b]."""
    rho = max(abs(a), abs(b))
    lo = hi = Fraction(COEFFICIENTS[DEGREE])
    error = Fraction(0)
    for coefficient in reversed(COEFFICIENTS[:DEGREE]):
        corners = (lo * a, lo * b, hi * a, hi * b)
        p_lo, p_hi = min(corners), max(corners)
        p_err = _U * max(abs(p_lo), abs(p_hi)) + _ETA / 2
        z_lo, z_hi = p_lo - p_err + Fraction(coefficient), p_hi + p_err + Fraction(coefficient)
        z_err = _U * max(abs(z_lo), abs(z_hi))
        error = _ceil_dyadic(error * rho + p_err + z_err)
        lo, hi = _floor_dyadic(z_lo - z_err), _ceil_dyadic(z_hi + z_err)
    return error


def _polynomial_relative_error(radius: Fraction, pieces: int = 32) -> Fraction:
    """Max over r in [-radius, radius] of |Horner(r) - exp(r)| / exp(r), rigorously bounded."""
    coefficient_error = [abs(Fraction(c) - Fraction(1, math.factorial(i)))
                         for i, c in enumerate(COEFFICIENTS)]
    worst = Fraction(0)
    for j in range(pieces):
        a = -radius + 2 * radius * j / pieces
        b = -radius + 2 * radius * (j + 1) / pieces
        rho = max(abs(a), abs(b))
        absolute = (
            _horner_error(a, b)
            + sum(err * rho**i for i, err in enumerate(coefficient_error))
            + rho ** (DEGREE + 1) / math.factorial(DEGREE + 1) * _exp_upper_small(max(b, Fraction(0)))
        )
        worst = max(worst, absolute / _exp_lower_small(a))
    return worst


def _relative_error_bound() -> Fraction:
    radius, delta = _reduction_bounds()
    growth = _exp_upper_small(delta)
    return _polynomial_relative_error(radius) * growth + (growth - 1)


def _float_below(value: Fraction) -> float:
    f = float(value)
    return f if Fraction(f) <= value else float(np.nextafter(f, -np.inf))


def _float_above(value: Fraction) -> float:
    f = float(value)
    return f if Fraction(f) >= value else float(np.nextafter(f, np.inf))


RELATIVE_ERROR_BOUND: Fraction = _relative_error_bound()
LOWER_FACTOR = _float_below(1 / ((1 + RELATIVE_ERROR_BOUND) * (1 + _U)))
UPPER_FACTOR = _float_above(1 / ((1 - RELATIVE_ERROR_BOUND) * (1 - _U)))


def _power_of_two(exponent: np.ndarray) -> np.ndarray:
    """2.0**exponent for integer exponents in the normal range [-1022, 1023], built from the bits."""
    return ((exponent + 1023).astype(np.int64) << 52).view(np.float64)


def _scaled_kernel(x: np.ndarray, factor: float) -> np.ndarray:
    """fl(fl(p(r) * factor) * 2^k) for finite -746 < x < 710 (see the module docstring)."""
    k = np.rint(x * INV_LN2)
    r = (x - k * LN2_HEAD) - k * LN2_TAIL
    p = np.full_like(r, COEFFICIENTS[DEGREE])
    for coefficient in reversed(COEFFICIENTS[:DEGREE]):
        p = p * r + coefficient
    k_int = k.astype(np.int64)
    k1 = k_int >> 1
    return ((p * factor) * _power_of_two(k1)) * _power_of_two(k_int - k1)


def _kernel_input(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x as float64, mask of the kernel's range (NaN excluded), x with 0 outside that range)."""
    x = np.asarray(x, dtype=np.float64)
    inside = (x > UNDERFLOW_THRESHOLD) & (x < OVERFLOW_THRESHOLD)
    return x, inside, np.where(inside, x, 0.0)


def exp_lower(x: np.ndarray) -> np.ndarray:
    """A float64 array with exp_lower(x) <= exp(x) elementwise (exact real exp; NaN -> NaN)."""
    x, inside, safe = _kernel_input(x)
    with np.errstate(over="ignore", under="ignore"):
        kernel = np.minimum(np.maximum(_scaled_kernel(safe, LOWER_FACTOR) - ETA, 0.0), DBL_MAX)
    outside = np.where(x >= OVERFLOW_THRESHOLD, DBL_MAX, np.where(x <= UNDERFLOW_THRESHOLD, 0.0, np.nan))
    return np.where(inside, kernel, outside)


def exp_upper(x: np.ndarray) -> np.ndarray:
    """A float64 array with exp(x) <= exp_upper(x) elementwise (exact real exp; NaN -> NaN)."""
    x, inside, safe = _kernel_input(x)
    with np.errstate(over="ignore", under="ignore"):
        kernel = _scaled_kernel(safe, UPPER_FACTOR) + ETA
    outside = np.where(x >= OVERFLOW_THRESHOLD, np.inf, np.where(x <= UNDERFLOW_THRESHOLD, ETA, np.nan))
    return np.where(inside, kernel, outside)
