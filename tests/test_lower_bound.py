"""LowerBound, the one-sided enclosures of the brute-force filter, against exact rationals: every operation's
result is at most the smallest real its operands allow (compared with :func:`tests.exact_arithmetic.assert_lower_bound`,
finite), and a "certainly positive" answer is exactly right."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from checker.kernel import Interval, LowerBound
from tests.exact_arithmetic import assert_lower_bound, fractions_of
from tests.test_interval import intervals, values

floats = values(max_exponent=400)


def arrays(size: int) -> st.SearchStrategy[np.ndarray]:
    return st.lists(floats, min_size=size, max_size=size).map(np.array)


@st.composite
def pairs_of_lower_bounds(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    size = draw(st.integers(1, 6))
    return draw(arrays(size)), draw(arrays(size))


@given(pairs_of_lower_bounds())
def test_sum_is_at_most_the_sum_of_the_lower_bounds(pair):
    """For reals x >= lo_x and y >= lo_y: ``x + y >= lo_x + lo_y >= result``."""
    x, y = pair
    assert_lower_bound((LowerBound(x) + LowerBound(y)).lo, fractions_of(x) + fractions_of(y), "sum")


@given(pairs_of_lower_bounds(), st.data())
def test_difference_is_at_most_lower_minus_upper(pair, data):
    """For reals x >= lo and y in [y_lo, y_hi]: ``x - y >= lo - y_hi >= result``."""
    x, _ = pair
    ends = data.draw(st.lists(intervals(floats), min_size=x.size, max_size=x.size))
    other = Interval(np.array([e[0] for e in ends]), np.array([e[1] for e in ends]))
    assert_lower_bound((LowerBound(x) - other).lo, fractions_of(x) - fractions_of(other.hi), "difference")


@given(st.integers(1, 4), st.integers(1, 3), st.data())
def test_weighted_is_at_most_every_product(rows, cols, data):
    """For reals e in [e_lo, e_hi] with e_lo >= 0 (per row, broadcast over the columns) and x >= lo, the
    smallest ``e x`` is ``e_lo lo`` when lo >= 0 and ``e_hi lo`` when lo < 0; the result is at most that. A
    weight interval reaching below 0 gives NaN (not certified)."""
    lo = data.draw(arrays(rows * cols)).reshape(rows, cols)
    ends = data.draw(st.lists(intervals(values(max_exponent=400).map(abs)), min_size=rows, max_size=rows))
    weights = Interval(np.array([e[0] for e in ends]), np.array([e[1] for e in ends]))
    exact_lo = fractions_of(lo)
    low, high = fractions_of(weights.lo)[:, None], fractions_of(weights.hi)[:, None]
    smallest = np.where(exact_lo >= 0, low * exact_lo, high * exact_lo)
    assert_lower_bound(LowerBound(lo).weighted(weights).lo, smallest, "weighted")
    negative = Interval(weights.lo - 1.0, weights.hi)
    assert np.isnan(LowerBound(lo).weighted(negative).lo[weights.lo - 1.0 < 0]).all()


@given(st.integers(1, 4), st.integers(1, 4), st.data())
def test_min_without_an_entry_is_at_most_the_minimum_of_the_rest(rows, cols, data):
    """``min_{j != left out} x_j >= min_{j != left out} lo_j >= result`` along axis 1."""
    lo = data.draw(arrays(rows * cols)).reshape(rows, cols)
    left_out = np.array(data.draw(st.lists(st.integers(0, cols - 1), min_size=rows, max_size=rows)))
    without = (np.arange(rows), left_out) if cols > 1 else None
    result = LowerBound(lo).min(axis=1, without=without)
    exact = fractions_of(lo)
    expected = [min(exact[r, j] for j in range(cols) if without is None or j != left_out[r]) for r in range(rows)]
    assert_lower_bound(result.lo, np.array(expected, dtype=object), "min without")


def certainly_positive_is_right(certain: np.ndarray, exact_sums: np.ndarray, magnitudes: np.ndarray) -> None:
    """True only where the exact sum of lower bounds is > 0; and True wherever it is clearly positive (above
    2^-40 of the magnitude sum, and 2^-1000), so an answer of "never" fails."""
    assert not (certain & (exact_sums <= 0)).any(), "certified a sum that is not positive"
    clearly = exact_sums > magnitudes * Fraction(1, 2**40) + Fraction(1, 2**1000)
    assert certain[clearly].all(), "a clearly positive sum was not certified"


@given(st.integers(1, 3), st.integers(1, 8), st.data())
def test_sum_certainly_positive_only_for_positive_sums(rows, length, data):
    """True means ``sum_j x_j >= sum_j lo_j > 0`` exactly."""
    lo = data.draw(arrays(rows * length)).reshape(rows, length)
    exact = fractions_of(lo)
    sums, magnitudes = exact.sum(axis=1) + Fraction(0), np.abs(exact).sum(axis=1) + Fraction(0)
    certainly_positive_is_right(LowerBound(lo).sum_certainly_positive(axis=1), sums, magnitudes)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=4), st.data())
def test_outer_sum_certainly_positive_only_for_positive_sums(sizes, data):
    """Cell ``(i_1, ...)`` True means ``sum_j lo_j[i_j] > 0`` exactly (0-d parts add to every cell)."""
    parts = [data.draw(arrays(size)) if size else np.array(data.draw(floats)) for size in sizes]
    grid = LowerBound.outer_sum_certainly_positive([LowerBound(part) for part in parts])
    shape = tuple(part.size for part in parts if part.ndim)
    assert grid.shape == shape
    sums = np.full(shape, Fraction(0), dtype=object)
    magnitudes = np.full(shape, Fraction(0), dtype=object)
    axis = 0
    for part in parts:
        exact = fractions_of(part)
        if part.ndim:
            view = [1] * len(shape)
            view[axis] = part.size
            exact, axis = exact.reshape(view), axis + 1
        sums, magnitudes = sums + exact, magnitudes + np.abs(exact)
    certainly_positive_is_right(grid, sums, magnitudes)


CANCELLATION = np.array([2.0**54, -1.0, -1.0, -(2.0**54 - 2.0)])
"""Exactly 0, but its float sum in order is 2: each -1 is lost to rounding at 2^54 (a tie to even)."""


def test_certainly_positive_is_not_fooled_by_rounding():
    """A float sum of lower bounds that is positive only through rounding (the exact sum is 0) certifies
    nothing, by the sum or by the outer sum."""
    assert CANCELLATION.reshape(1, -1).sum(axis=1)[0] > 0 and sum(fractions_of(CANCELLATION)) == 0
    assert not LowerBound(CANCELLATION.reshape(1, -1)).sum_certainly_positive(axis=1).any()
    parts = [LowerBound(np.array(value)) for value in CANCELLATION]
    assert not LowerBound.outer_sum_certainly_positive(parts).any()
