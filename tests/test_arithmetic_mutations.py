"""Mutation power of the arithmetic kernel: shrink one outward-rounding constant, and a crafted input breaks
containment (checked against fractions.Fraction or 200-bit mpmath). If these tests fail, the containment
tests of the kernel could not tell a sound kernel from an unsound one.

Mutants (each applied with monkeypatch, read by the kernel at call time):

* ``PHI -> 0``: :func:`checker.kernel.rounding.down` / ``up`` no longer step one float outward;
* ``ETA -> 0``: they no longer cover results that underflow to zero;
* ``gamma_k -> gamma_{k-1}``: :func:`checker.kernel.rounding.sum_error_bound` charges one rounding too few
  (the bound the brute-force filter compares its float sums against);
* the exp error bound of :mod:`checker.kernel.rexp` quartered or dropped: ``LOWER_FACTOR`` / ``UPPER_FACTOR``
  recomputed from a smaller ``RELATIVE_ERROR_BOUND``.

Halving the exp bound is an equivalent mutant, which is worth knowing: the proven bound (about 2.45 u) is
about 1.6 times the kernel's worst observed error (about 1.5 u), and the factors are floats next to 1, so
halving moves ``LOWER_FACTOR`` from 1 - 4u to 1 - 3u and leaves ``UPPER_FACTOR`` at 1 + 4u; 4e7 random
inputs leave a containment margin of 1.2 u. A quarter of the bound (1 - 2u, 1 + 2u) is the first power of
two that breaks, on the inputs below (found by a search of 2e7 inputs against long double).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import find
from hypothesis import strategies as st

from checker.kernel import Interval, rexp, rounding
from checker.kernel.rounding import sum_error_bound

UNIT = 2.0**-53
EXP_BREAKERS = {"lower": float.fromhex("0x1.63250920657f8p-2"), "upper": float.fromhex("-0x1.08948feac4401p+0")}
"""Inputs whose exp enclosure breaks once the exp error bound is quartered (lower resp. upper side)."""


def encloses(result: Interval, exact: Fraction) -> bool:
    """``lo <= exact <= hi`` for a one-element interval, compared exactly."""
    lo, hi = float(result.lo.reshape(-1)[0]), float(result.hi.reshape(-1)[0])
    return Fraction(lo) <= exact <= Fraction(hi)


def point(value: float) -> Interval:
    return Interval.exact(np.array([value]))


# ----------------------------------------------------------------------------- PHI and ETA
def add_tiny() -> bool:
    """Does [1] + [2^-60] enclose 1 + 2^-60? (The float sum is 1: the step outward must cover it.)"""
    return encloses(point(1.0) + point(2.0**-60), 1 + Fraction(2) ** -60)


def multiply_into_underflow() -> bool:
    """Does [2^-1074] * [1/2] enclose 2^-1075? (The float product rounds to 0.)"""
    return encloses(point(2.0**-1074) * point(0.5), Fraction(2) ** -1075)


def test_phi_zero_breaks_an_addition(monkeypatch):
    assert add_tiny()
    monkeypatch.setattr(rounding, "PHI", 0.0)
    assert not add_tiny()


def test_phi_zero_is_found_by_random_search(monkeypatch):
    """Property-based containment testing finds the PHI mutant by itself, without a crafted input."""
    monkeypatch.setattr(rounding, "PHI", 0.0)
    finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)

    def broken(pair: tuple[float, float]) -> bool:
        return not encloses(point(pair[0]) + point(pair[1]), Fraction(pair[0]) + Fraction(pair[1]))

    assert broken(find(st.tuples(finite, finite), broken))


def test_eta_zero_breaks_a_product_that_underflows(monkeypatch):
    assert multiply_into_underflow()
    monkeypatch.setattr(rounding, "ETA", 0.0)
    assert not multiply_into_underflow()


# ----------------------------------------------------------------------------- gamma
def sequential_sum_is_covered(terms: list[float]) -> bool:
    """|fl(sum) - sum| <= sum_error_bound(fl(sum |x|), len) for the left-to-right float sum."""
    total = magnitude = 0.0
    for term in terms:
        total += term
        magnitude += abs(term)
    error = abs(Fraction(total) - sum(map(Fraction, terms)))
    return error <= Fraction(float(sum_error_bound(np.array(magnitude), len(terms))))


def test_gamma_off_by_one_breaks_a_float_sum(monkeypatch):
    """1 + a + a + a with a just below half an ulp of 1: every addition rounds back to 1, so the float
    sum loses 3a (about 3u) while gamma_2 charges only about 2u."""
    almost_half_ulp = UNIT - 2.0**-63
    terms = [1.0, almost_half_ulp, almost_half_ulp, almost_half_ulp]
    assert sequential_sum_is_covered(terms)
    original = rounding.gamma_upper
    monkeypatch.setattr(rounding, "gamma_upper", lambda k: original(k - 1))
    assert not sequential_sum_is_covered(terms)


# ----------------------------------------------------------------------------- exp
def exp_factors(fraction: Fraction) -> tuple[float, float]:
    """LOWER_FACTOR and UPPER_FACTOR derived as :mod:`checker.kernel.rexp` does, from ``fraction`` times its bound."""
    bound, unit = rexp.RELATIVE_ERROR_BOUND * fraction, Fraction(1, 2**53)
    return rexp._float_below(1 / ((1 + bound) * (1 + unit))), rexp._float_above(1 / ((1 - bound) * (1 - unit)))


def exp_encloses(x: float) -> tuple[bool, bool]:
    """(exp_lower(x) <= exp(x), exp(x) <= exp_upper(x)), against mpmath at 200 bits."""
    with mpmath.workprec(200):
        exact = mpmath.exp(mpmath.mpf(x))
        lower = mpmath.mpf(float(rexp.exp_lower(np.array([x]))[0]))
        upper = mpmath.mpf(float(rexp.exp_upper(np.array([x]))[0]))
        return lower <= exact, exact <= upper


def test_the_factors_are_derived_as_assumed():
    assert exp_factors(Fraction(1)) == (rexp.LOWER_FACTOR, rexp.UPPER_FACTOR)


@pytest.mark.parametrize("fraction", [Fraction(1, 4), Fraction(0)], ids=["quartered", "dropped"])
@pytest.mark.parametrize("side", ["lower", "upper"])
def test_shrunk_exp_error_bound_breaks_containment(monkeypatch, fraction, side):
    x = EXP_BREAKERS[side]
    assert exp_encloses(x) == (True, True)
    lower, upper = exp_factors(fraction)
    monkeypatch.setattr(rexp, "LOWER_FACTOR", lower)
    monkeypatch.setattr(rexp, "UPPER_FACTOR", upper)
    assert exp_encloses(x)[0 if side == "lower" else 1] is False
