"""The kernel's row operations and combinators against exact rationals: each encloses its real function at
every real of the input boxes (corners, midpoints and random points, :func:`tests.exact_arithmetic.point_in`),
and the operations documented as exact on endpoints are exactly the extremes over the box."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.kernel import Interval
from tests.exact_arithmetic import assert_encloses, fractions_of, point_in
from tests.test_interval import intervals, values

POINTS = 3
"""Reals drawn inside the input boxes per example."""


@st.composite
def boxes(draw: st.DrawFn, min_rows: int = 1, max_rows: int = 3, max_length: int = 5,
          nonnegative: bool = False) -> Interval:
    """An [R, L] interval of point, narrow and wide entries (R >= min_rows, L >= 1)."""
    rows, length = draw(st.integers(min_rows, max_rows)), draw(st.integers(1, max_length))
    base = values(max_exponent=400)
    if nonnegative:
        base = base.map(abs)
    pairs = draw(st.lists(intervals(base), min_size=rows * length, max_size=rows * length))
    lo = np.array([p[0] for p in pairs]).reshape(rows, length)
    hi = np.array([p[1] for p in pairs]).reshape(rows, length)
    return Interval(lo, hi)


seeds = st.integers(0, 2**32 - 1)


def running(exact: np.ndarray, pick) -> np.ndarray:
    """``pick`` (max or min) of ``exact[..., :t+1]`` for every t, on Fractions."""
    result = exact.copy()
    for t in range(1, exact.shape[-1]):
        result[..., t] = np.array([pick(a, b) for a, b in zip(result[..., t - 1], exact[..., t], strict=True)])
    return result


@given(boxes(), seeds)
def test_row_range_encloses_the_range_of_every_point(box, seed):
    """``lo <= max_j x_j - min_j x_j <= hi`` for every real x in the box."""
    rng = np.random.default_rng(seed)
    for _ in range(POINTS):
        x = point_in(box.lo, box.hi, rng)
        assert_encloses(box.row_range(), x.max(axis=-1) - x.min(axis=-1), "row_range")


@given(boxes(), seeds)
def test_running_extremes_are_the_running_extremes_of_the_endpoints(box, seed):
    """``running_max`` is ``[max_{j<=t} lo_j, max_{j<=t} hi_j]``, the exact range of ``max_{j<=t} x_j`` over the
    box (exact on endpoints); ``running_min`` mirrored; both enclose the running extremes of every point."""
    lo, hi = fractions_of(box.lo), fractions_of(box.hi)
    for operation, pick in ((box.running_max(), max), (box.running_min(), min)):
        assert (fractions_of(operation.lo) == running(lo, pick)).all()
        assert (fractions_of(operation.hi) == running(hi, pick)).all()
        rng = np.random.default_rng(seed)
        for _ in range(POINTS):
            assert_encloses(operation, running(point_in(box.lo, box.hi, rng), pick), "running extreme")


@given(boxes(), seeds)
def test_prefix_sums_enclose_every_prefix_sum(box, seed):
    """Entry M encloses ``sum_{j<M} x_j`` for every real x in the box (both extremes, the sums of the lower
    and of the upper endpoints, included); entry 0 is exactly [0, 0]."""
    sums = box.prefix_sums()
    assert sums.shape == (box.shape[0], box.shape[1] + 1)
    assert (sums.lo[:, 0] == 0).all() and (sums.hi[:, 0] == 0).all()

    def prefixes(x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((x.shape[0], 1), dtype=object) + Fraction(0), np.cumsum(x, axis=1)], axis=1)

    rng = np.random.default_rng(seed)
    for x in (fractions_of(box.lo), fractions_of(box.hi), *(point_in(box.lo, box.hi, rng) for _ in range(POINTS))):
        assert_encloses(sums, prefixes(x), "prefix sums")


@given(boxes(), seeds, st.data())
def test_sorted_envelope_encloses_the_sorted_row_for_any_permutation(box, seed, data):
    """Column j encloses the j-th smallest of every real row x in the box, whatever permutation is given."""
    rng = np.random.default_rng(seed)
    rows, length = box.shape
    order = np.array([data.draw(st.permutations(range(length))) for _ in range(rows)])
    envelope = box.sorted_envelope(order)
    for _ in range(POINTS):
        x = point_in(box.lo, box.hi, rng)
        assert_encloses(envelope, np.array([sorted(row) for row in x], dtype=object), "sorted envelope")


@given(boxes(), seeds)
def test_sorted_envelope_of_points_in_sorted_order_is_the_sorted_points(box, seed):
    """A sorting permutation loses nothing: for point rows, column j is exactly the j-th smallest."""
    x = box.lo
    envelope = Interval.exact(x).sorted_envelope(np.argsort(x, axis=1, kind="stable"))
    assert (envelope.lo == np.sort(x, axis=1)).all() and (envelope.hi == np.sort(x, axis=1)).all()


def test_sorted_envelope_refuses_an_order_that_is_not_a_permutation():
    box = Interval.exact(np.zeros((2, 3)))
    for order in (np.array([[0, 1, 2], [0, 0, 2]]), np.array([[0, 1, 3], [0, 1, 2]]), np.zeros((2, 2), int)):
        with pytest.raises(ValueError):
            box.sorted_envelope(order)


@given(boxes(), st.sampled_from([0, 1]))
def test_anchor_is_the_point_at_the_largest_lower_endpoint(box, axis):
    """An exact float (lo == hi), the largest lower endpoint along the axis, kept as a length-1 axis."""
    anchor = box.anchor(axis)
    expected = box.lo.max(axis=axis, keepdims=True)
    assert (anchor.lo == expected).all() and (anchor.hi == expected).all()


@given(boxes(min_rows=2, max_rows=4, max_length=3, nonnegative=True), seeds)
def test_shares_enclose_the_exact_extremes_and_every_point(box, seed):
    """For parts ``u`` [K, C] (K >= 2, as every caller has) in the box with a positive sum, ``u_i / sum_j u_j``
    lies in the enclosure, and so do its extremes over the box, ``lo_i / (lo_i + sum_{j != i} hi_j)`` and
    ``hi_i / (hi_i + sum_{j != i} lo_j)`` (exact where their denominators are positive)."""
    shares = Interval.shares(box)
    lo, hi = fractions_of(box.lo), fractions_of(box.hi)
    for i in range(box.shape[0]):
        others = [j for j in range(box.shape[0]) if j != i]
        rest_lo, rest_hi = lo[others].sum(axis=0) + Fraction(0), hi[others].sum(axis=0) + Fraction(0)
        for column in range(box.shape[1]):
            if lo[i, column] + rest_hi[column] > 0:
                smallest = lo[i, column] / (lo[i, column] + rest_hi[column])
                assert_encloses(shares[i, column], np.array(smallest), "smallest share")
            if hi[i, column] + rest_lo[column] > 0:
                largest = hi[i, column] / (hi[i, column] + rest_lo[column])
                assert_encloses(shares[i, column], np.array(largest), "largest share")
    rng = np.random.default_rng(seed)
    for _ in range(POINTS):
        u = point_in(box.lo, box.hi, rng)
        total = u.sum(axis=0)
        for column in np.flatnonzero(total > 0):
            assert_encloses(shares[:, column], u[:, column] / total[column], "share")


@given(boxes(), boxes(), seeds)
def test_spanning_encloses_everything_between_its_ends(low, high, seed):
    """``[low.lo, high.hi]`` holds every x with ``l <= x <= h`` for reals l in ``low`` and h in ``high``."""
    high = Interval(np.resize(high.lo, low.shape), np.resize(high.hi, low.shape))
    span = Interval.spanning(low, high)
    rng = np.random.default_rng(seed)
    for _ in range(POINTS):
        left, right = point_in(low.lo, low.hi, rng), point_in(high.lo, high.hi, rng)
        t = fractions_of(rng.random(low.shape))
        between = np.where(left <= right, left + t * (right - left), left)
        inside = left <= right
        if inside.any():
            assert_encloses(span[inside], between[inside], "spanning")


@given(st.integers(1, 8), st.data())
def test_assemble_places_each_part_and_certifies_nothing_elsewhere(size, data):
    """Entries under a part's mask are that part's enclosures, in order; entries no mask covers are NaN, so no
    predicate certifies them."""
    owner = np.array(data.draw(st.lists(st.integers(-1, 2), min_size=size, max_size=size)))
    parts = []
    for label in range(3):
        mask = owner == label
        pairs = data.draw(st.lists(intervals(values()), min_size=int(mask.sum()), max_size=int(mask.sum())))
        parts.append((mask, Interval(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))))
    result = Interval.assemble(size, parts)
    for mask, part in parts:
        assert (result.lo[mask] == part.lo).all() and (result.hi[mask] == part.hi).all()
    uncovered = owner < 0
    assert np.isnan(result.lo[uncovered]).all() and np.isnan(result.hi[uncovered]).all()
    assert not result.bounded_above_by(np.full(size, np.inf))[uncovered].any()
    assert not result.bounded_below_by(np.full(size, -np.inf))[uncovered].any()
