"""The attention helpers shared by the cubic and subcubic families (:mod:`checker.strategies.attention`)
against exact rationals at reals drawn inside the input boxes, for every permutation hint."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from checker.kernel import Interval
from checker.strategies.attention import HI, LO, extreme_attention, extreme_slot_sums
from tests.exact_arithmetic import assert_encloses, assert_lower_bound, assert_upper_bound, point_in
from tests.test_interval import intervals
from tests.test_interval_rows import POINTS, boxes, seeds

positive = st.floats(2.0**-60, 2.0**60)


def positive_box(data: st.DataObject, shape: tuple[int, ...]) -> Interval:
    """An interval of the given shape enclosing positive reals (point, narrow and wide entries)."""
    size = int(np.prod(shape))
    pairs = data.draw(st.lists(intervals(positive), min_size=size, max_size=size))
    return Interval(np.array([p[0] for p in pairs]).reshape(shape), np.array([p[1] for p in pairs]).reshape(shape))


def permutations(data: st.DataObject, rows: int, length: int) -> np.ndarray:
    return np.array([data.draw(st.permutations(range(length))) for _ in range(rows)]).reshape(rows, length)


@given(boxes(), seeds, st.data())
def test_extreme_slot_sums_enclose_the_subset_extremes_for_any_order(box, seed, data):
    """``smallest[r, M]`` encloses ``min_{|S| = M} sum_{p in S} x[r, p]`` and ``largest[r, M]`` the max, for
    every real x in the box and any permutation hint (subsets enumerated, sums exact)."""
    rows, length = box.shape
    smallest, largest = extreme_slot_sums(box, permutations(data, rows, length))
    rng = np.random.default_rng(seed)
    for _ in range(POINTS):
        x = point_in(box.lo, box.hi, rng)
        for count in range(length + 1):
            sums = [x[:, list(subset)].sum(axis=1) + 0 for subset in itertools.combinations(range(length), count)]
            low = np.array([min(s[r] for s in sums) for r in range(rows)], dtype=object)
            high = np.array([max(s[r] for s in sums) for r in range(rows)], dtype=object)
            assert_encloses(smallest[:, count], low, f"smallest {count}-sum")
            assert_encloses(largest[:, count], high, f"largest {count}-sum")


def exact_shares(x: np.ndarray, on_max: list[int], f_max, f_other, w) -> np.ndarray:
    """``(A_max, A_other, A_query)`` for max tokens on the positions ``on_max`` (exact rationals)."""
    held = x[on_max].sum() + 0
    rest = x.sum() - held
    total = f_max * held + f_other * rest + w
    return np.array([f_max * held / total, f_other * rest / total, w / total], dtype=object)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), seeds, st.data())
def test_extreme_attention_encloses_both_configurations_and_bounds_every_arrangement(rows, length, cases, seed,
                                                                                      data):
    """For positive reals in the boxes (positional weights x, factors f_max, f_other, query weight w) and any
    permutation hint: configuration LO encloses the shares with the max token on the M smallest x_p, HI on the
    M largest; and every arrangement's shares lie between the two configurations' enclosures (each share
    is monotone in the max slots' positional weight)."""
    weights = positive_box(data, (rows, length))
    row = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=cases, max_size=cases)))
    slots = np.array(data.draw(st.lists(st.integers(0, length), min_size=cases, max_size=cases)))
    max_factor, other_factor, query_weight = (positive_box(data, (cases,)) for _ in range(3))
    smallest, largest = extreme_slot_sums(weights, permutations(data, rows, length))
    shares = extreme_attention(smallest, largest, row, slots, max_factor, other_factor, query_weight)
    assert shares.shape == (2, 3, cases)
    low = shares.lo.min(axis=0)
    high = shares.hi.max(axis=0)
    rng = np.random.default_rng(seed)
    for _ in range(POINTS):
        x = point_in(weights.lo, weights.hi, rng)
        factors = [point_in(part.lo, part.hi, rng) for part in (max_factor, other_factor, query_weight)]
        for case in range(cases):
            r, count = int(row[case]), int(slots[case])
            point = x[r], *(factor[case] for factor in factors)
            ascending = sorted(range(length), key=lambda p: x[r, p])
            assert_encloses(shares[LO, :, case], exact_shares(point[0], ascending[:count], *point[1:]), "LO")
            assert_encloses(shares[HI, :, case], exact_shares(point[0], ascending[length - count:], *point[1:]), "HI")
            for subset in itertools.combinations(range(length), count):
                exact = exact_shares(point[0], list(subset), *point[1:])
                assert_lower_bound(low[:, case], exact, "arrangement")
                assert_upper_bound(high[:, case], exact, "arrangement")
