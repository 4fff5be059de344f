"""exp_lower(x) <= exp(x) <= exp_upper(x) against mpmath at 300 bits, on random and adversarial x."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from checker.kernel import rexp

U = Fraction(1, 2**53)
DBL_MAX = float(np.finfo(np.float64).max)
ETA = 2.0**-1074
PRECISION = 300


def _exact_exp(x: float) -> mpmath.mpf:
    with mpmath.workprec(PRECISION):
        return mpmath.exp(mpmath.mpf(x))


def _log_of(value: mpmath.mpf | float) -> float:
    """The float nearest to log(value)."""
    with mpmath.workprec(PRECISION):
        return float(mpmath.log(mpmath.mpf(value)))


def _steps(x: float, ulps: int) -> float:
    """x moved by ``ulps`` floats (negative: downward)."""
    for _ in range(abs(ulps)):
        x = math.nextafter(x, math.copysign(math.inf, ulps))
    return x


def _assert_encloses(xs: np.ndarray) -> None:
    lower, upper = rexp.exp_lower(xs), rexp.exp_upper(xs)
    assert lower.shape == upper.shape == xs.shape
    for x, lo, hi in zip(xs.ravel(), lower.ravel(), upper.ravel(), strict=True):
        if math.isnan(x):
            assert math.isnan(lo) and math.isnan(hi)
            continue
        assert 0.0 <= lo <= hi, (x, lo, hi)
        if math.isinf(x):
            continue
        exact = _exact_exp(float(x))
        with mpmath.workprec(PRECISION):
            assert mpmath.mpf(float(lo)) <= exact, (float(x), float(lo))
            assert math.isinf(hi) or exact <= mpmath.mpf(float(hi)), (float(x), float(hi))


# Boundaries of the float64 range of exp: overflow, smallest normal result, half the smallest subnormal.
LOG_DBL_MAX = _log_of(DBL_MAX)  # ~709.78
LOG_SMALLEST_NORMAL = _log_of(2.0**-1022)  # ~-708.40
LOG_HALF_ETA = _log_of(mpmath.mpf(2) ** -1075)  # ~-745.13
LN2 = _log_of(2.0)

ADVERSARIAL = [
    0.0, -0.0, ETA, -ETA, 2.0**-1022, -(2.0**-1022), 2.0**-300, -(2.0**-300), 2.0**-60, -(2.0**-60),
    1e-20, -1e-20, 0.5, -0.5, 1.0, -1.0, LN2, -LN2, LN2 / 2, -LN2 / 2, 0.3465735902799726,
    -0.3465735902799726, 709.0, 709.78, LOG_DBL_MAX, 709.79, 709.9999999999999, 710.0, 710.5, 715.0,
    1e300, DBL_MAX, -708.0, LOG_SMALLEST_NORMAL, -708.5, -744.0, -744.44, LOG_HALF_ETA, -745.2,
    -745.9999999999999, -746.0, -746.5, -750.0, -1e300, -DBL_MAX, math.inf, -math.inf, math.nan,
]


def test_adversarial_points_and_their_neighbours() -> None:
    xs = [_steps(x, ulps) for x in ADVERSARIAL for ulps in range(-3, 4)]
    _assert_encloses(np.array(xs))


@given(st.lists(st.floats(min_value=-750.0, max_value=715.0), min_size=1, max_size=40))
def test_random_arguments(xs: list[float]) -> None:
    _assert_encloses(np.array(xs))


@given(st.integers(min_value=-1077, max_value=1025), st.sampled_from([0, 1]), st.integers(-4, 4))
def test_multiples_and_half_multiples_of_ln2(k: int, half: int, ulps: int) -> None:
    """x = k ln2 (reduction boundary of k) and (k + 1/2) ln2 (|r| near 0.3466, where k flips)."""
    with mpmath.workprec(PRECISION):
        x = float((k + mpmath.mpf(half) / 2) * mpmath.log(2))
    _assert_encloses(np.array([_steps(x, ulps)]))


@given(st.sampled_from([LOG_DBL_MAX, LOG_SMALLEST_NORMAL, LOG_HALF_ETA]), st.integers(-2000, 2000))
def test_near_overflow_and_underflow(edge: float, ulps: int) -> None:
    x = edge + ulps * 2.0**-40
    _assert_encloses(np.array([x]))


def test_special_values() -> None:
    xs = np.array([math.inf, -math.inf, math.nan, 710.0, -746.0])
    lower, upper = rexp.exp_lower(xs), rexp.exp_upper(xs)
    assert lower[0] == DBL_MAX and upper[0] == math.inf
    assert lower[1] == 0.0 and upper[1] == ETA
    assert math.isnan(lower[2]) and math.isnan(upper[2])
    assert lower[3] == DBL_MAX and upper[3] == math.inf
    assert lower[4] == 0.0 and upper[4] == ETA
    assert _exact_exp(-746.0) < mpmath.mpf(ETA)  # so [0, ETA] is an enclosure
    assert _exact_exp(710.0) > mpmath.mpf(DBL_MAX)


def test_shapes_are_kept() -> None:
    xs = np.linspace(-3.0, 3.0, 12).reshape(3, 4)
    assert rexp.exp_lower(xs).shape == (3, 4) and rexp.exp_upper(xs).shape == (3, 4)
    assert rexp.exp_lower(np.float64(1.0)).shape == ()
    _assert_encloses(xs)


def test_width_in_the_normal_range() -> None:
    xs = np.concatenate([np.linspace(-708.0, 709.0, 20001), np.linspace(-1.0, 1.0, 2001)])
    lower, upper = rexp.exp_lower(xs), rexp.exp_upper(xs)
    assert np.all(upper / lower - 1 < 1e-14)


def test_error_bound_is_below_six_units_of_roundoff() -> None:
    assert 0 < rexp.RELATIVE_ERROR_BOUND < 6 * U
    assert rexp.LOWER_FACTOR < 1.0 < rexp.UPPER_FACTOR
    assert Fraction(rexp.LOWER_FACTOR) * (1 + rexp.RELATIVE_ERROR_BOUND) * (1 + U) <= 1
    assert Fraction(rexp.UPPER_FACTOR) * (1 - rexp.RELATIVE_ERROR_BOUND) * (1 - U) >= 1


def test_constants_of_the_derivation() -> None:
    with mpmath.workprec(PRECISION):
        ln2 = mpmath.log(2)
        assert mpmath.mpf(rexp.LN2_LOWER.numerator) / rexp.LN2_LOWER.denominator < ln2
        assert ln2 < mpmath.mpf(rexp.LN2_UPPER.numerator) / rexp.LN2_UPPER.denominator
    for i, coefficient in enumerate(rexp.COEFFICIENTS):
        exact = Fraction(1, math.factorial(i))
        assert abs(Fraction(coefficient) - exact) <= U * exact


def test_kernel_error_is_within_the_polynomial_bound() -> None:
    """On |x| < ln2/2 the kernel is p(x) itself (k = 0, factor 1): its observed error is below B."""
    xs = np.random.default_rng(7).uniform(-0.3465, 0.3465, 3000)
    values = rexp._scaled_kernel(xs, 1.0)
    bound = mpmath.mpf(rexp.RELATIVE_ERROR_BOUND.numerator) / rexp.RELATIVE_ERROR_BOUND.denominator
    with mpmath.workprec(PRECISION):
        errors = [abs(mpmath.mpf(float(v)) / mpmath.exp(mpmath.mpf(float(x))) - 1)
                  for x, v in zip(xs, values, strict=True)]
    assert max(errors) <= bound
