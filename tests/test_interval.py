"""Every Interval operation encloses the exact real result (Fractions; mpmath for exp), NaN never
certifies anything, and the FLOP counter follows the cost model."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.kernel import Interval, flops
from checker.kernel.rounding import gamma_upper

ETA = 2.0**-1074
ULP_1 = 2.0**-52
SPECIAL = [
    0.0, -0.0, 1.0, -1.0, 2.0**-53, 1 + 2.0**-52, 1 + 2.0**-53 * 3, 3.0, 0.1, 1e16, 1e16 + 2, 2.0**300,
    -(2.0**300), 2.0**-300, -(2.0**-300), ETA, -ETA, 2.0**-1022, -(2.0**-1022), 2.0**-1060,
]


def values(max_exponent: int = 500, min_magnitude: float = 0.0) -> st.SearchStrategy[float]:
    """Floats with |x| <= 2^(max_exponent + 1): ordinary, special, subnormal and widely scaled."""
    scaled = st.builds(
        lambda m, e, s: s * math.ldexp(m, e),
        st.floats(1.0, 2.0, exclude_max=True), st.integers(-1074, max_exponent), st.sampled_from([-1.0, 1.0]),
    )
    subnormal = st.integers(-(2**20), 2**20).map(lambda n: n * ETA)
    ordinary = st.floats(-1e6, 1e6)
    return st.one_of(st.sampled_from(SPECIAL), scaled, subnormal, ordinary).filter(
        lambda v: min_magnitude <= abs(v) <= 2.0 ** (max_exponent + 1)
    )


def intervals(base: st.SearchStrategy[float]) -> st.SearchStrategy[tuple[float, float]]:
    """Point intervals, narrow intervals (a few ulps) and wide ones."""
    point = base.map(lambda v: (v, v))
    narrow = st.tuples(base, st.integers(1, 4)).map(lambda t: (t[0], _steps(t[0], t[1])))
    wide = st.tuples(base, base).map(lambda t: (min(t), max(t)))
    return st.one_of(point, narrow, wide)


def _steps(x: float, ulps: int) -> float:
    for _ in range(ulps):
        x = math.nextafter(x, math.inf)
    return x


def _array(pairs: list[tuple[float, float]]) -> Interval:
    return Interval(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))


def _below(bound: float, exact: Fraction) -> bool:
    """bound <= exact, NaN never holds."""
    if math.isnan(bound):
        return False
    return bound == -math.inf or (bound != math.inf and Fraction(bound) <= exact)


def _above(bound: float, exact: Fraction) -> bool:
    if math.isnan(bound):
        return False
    return bound == math.inf or (bound != -math.inf and Fraction(bound) >= exact)


def _assert_hull(result: Interval, hull: list[tuple[Fraction, Fraction]], finite: bool = True) -> None:
    """result contains the exact range [low, high] of every entry (and is finite when asked)."""
    lows, highs = result.lo.ravel(), result.hi.ravel()
    assert len(lows) == len(hull)
    for lo, hi, (low, high) in zip(lows, highs, hull, strict=True):
        assert _below(float(lo), low) and _above(float(hi), high), (lo, hi, low, high)
        if finite:
            assert math.isfinite(lo) and math.isfinite(hi), (lo, hi)


def _corners(x: tuple[float, float], y: tuple[float, float], op) -> tuple[Fraction, Fraction]:
    outcomes = [op(Fraction(a), Fraction(b)) for a in x for b in y]
    return min(outcomes), max(outcomes)


def _tight(result: Interval, ulps: int = 4) -> None:
    """Point operands: the enclosure is a few ulps wide."""
    magnitude = np.maximum(np.abs(result.lo), np.abs(result.hi))
    assert np.all(result.hi - result.lo <= ulps * ULP_1 * magnitude + 4 * ETA)


pairs = st.lists(st.tuples(intervals(values()), intervals(values())), min_size=1, max_size=6)


@given(pairs)
def test_add_and_sub(operands: list) -> None:
    x, y = _array([p[0] for p in operands]), _array([p[1] for p in operands])
    _assert_hull(x + y, [_corners(a, b, lambda s, t: s + t) for a, b in operands])
    _assert_hull(x - y, [_corners(a, b, lambda s, t: s - t) for a, b in operands])
    _assert_hull(2.5 + x, [_corners((2.5, 2.5), a, lambda s, t: s + t) for a, _ in operands])
    _assert_hull(2.5 - x, [_corners((2.5, 2.5), a, lambda s, t: s - t) for a, _ in operands])
    _assert_hull(-x, [(-Fraction(a[1]), -Fraction(a[0])) for a, _ in operands])


@given(values(), st.integers(-3, 3), values(max_exponent=-900))
def test_cancellation(x: float, ulps: int, tiny: float) -> None:
    """x + (-x + tiny) and x - x(1 + j 2^-52): the exact result is tiny, the enclosure tight."""
    y = -x * (1 + ulps * ULP_1)
    for other in (y, -x + tiny):
        exact = Fraction(x) + Fraction(other)
        result = Interval.exact(np.array([x])) + Interval.exact(np.array([other]))
        _assert_hull(result, [(exact, exact)])
        _tight(result)


@given(pairs)
def test_mul(operands: list) -> None:
    x, y = _array([p[0] for p in operands]), _array([p[1] for p in operands])
    _assert_hull(x * y, [_corners(a, b, lambda s, t: s * t) for a, b in operands])
    _assert_hull(x * -3.0, [_corners(a, (-3.0, -3.0), lambda s, t: s * t) for a, _ in operands])


@given(st.lists(st.tuples(values(), values()), min_size=1, max_size=6))
def test_point_operations_are_tight(operands: list) -> None:
    x = Interval.exact(np.array([p[0] for p in operands]))
    y = Interval.exact(np.array([p[1] for p in operands]))
    for result in (x + y, x - y, x * y):
        _tight(result)


nonzero_intervals = st.one_of(
    intervals(values(min_magnitude=2.0**-500).filter(lambda v: v > 0)),
    intervals(values(min_magnitude=2.0**-500).filter(lambda v: v < 0)),
)


@given(st.lists(st.tuples(intervals(values()), nonzero_intervals), min_size=1, max_size=6))
def test_div(operands: list) -> None:
    x, y = _array([p[0] for p in operands]), _array([p[1] for p in operands])
    _assert_hull(x / y, [_corners(a, b, lambda s, t: s / t) for a, b in operands])
    ones = Interval.exact(np.ones(len(operands)))
    _assert_hull(ones / y, [_corners((1.0, 1.0), b, lambda s, t: s / t) for _, b in operands])


@pytest.mark.parametrize("divisor", [(-1.0, 1.0), (0.0, 1.0), (-1.0, 0.0), (0.0, 0.0), (-0.0, 2.0)])
def test_division_by_an_interval_containing_zero_is_unbounded(divisor: tuple[float, float]) -> None:
    with np.errstate(invalid="ignore"):
        result = Interval.exact(np.array([1.0, -2.0, 0.0])) / _array([divisor] * 3)
    assert np.all(result.lo == -np.inf) and np.all(result.hi == np.inf)
    assert not result.bounded_below_by(np.zeros(3)).any() and not result.bounded_above_by(np.zeros(3)).any()
    assert not result.strictly_below(np.inf).any()


def test_strictly_below_needs_the_whole_enclosure_below() -> None:
    enclosure = _array([(-2.0, -1.0), (-1.0, 0.0), (-1.0, 1.0), (0.0, 0.0), (-np.inf, -5e-324)])
    assert enclosure.strictly_below(0.0).tolist() == [True, False, False, False, True]
    assert enclosure.strictly_below(-1.0).tolist() == [False, False, False, False, False]


@given(st.lists(intervals(values()), min_size=1, max_size=6))
def test_sqrt(operands: list) -> None:
    result = _array(operands).sqrt()
    for lo, hi, (a, b) in zip(result.lo, result.hi, operands, strict=True):
        if a < 0:
            assert math.isnan(lo)  # not certified
            continue
        assert lo >= 0 and (lo == 0 or Fraction(lo) ** 2 <= Fraction(a))  # lo <= sqrt(a)
        if b >= 0:
            assert hi >= 0 and Fraction(hi) ** 2 >= Fraction(b)  # hi >= sqrt(b)


@given(st.lists(intervals(values()), min_size=1, max_size=6))
def test_abs(operands: list) -> None:
    hull = []
    for a, b in operands:
        low = Fraction(a) if a >= 0 else (-Fraction(b) if b <= 0 else Fraction(0))
        hull.append((low, max(abs(Fraction(a)), abs(Fraction(b)))))
    result = _array(operands).abs()
    _assert_hull(result, hull)
    assert [(Fraction(lo), Fraction(hi)) for lo, hi in zip(result.lo, result.hi, strict=True)] == hull


@given(pairs)
def test_maximum_and_minimum(operands: list) -> None:
    x, y = _array([p[0] for p in operands]), _array([p[1] for p in operands])
    _assert_hull(x.maximum(y), [_corners(a, b, max) for a, b in operands])
    _assert_hull(x.minimum(y), [_corners(a, b, min) for a, b in operands])


@given(st.lists(intervals(values(max_exponent=400)), min_size=1, max_size=64))
def test_sum_mean_max_min(operands: list) -> None:
    column = _array(operands)
    matrix = Interval(np.stack([column.lo, -column.hi], axis=1), np.stack([column.hi, -column.lo], axis=1))
    low, high = sum(Fraction(a) for a, _ in operands), sum(Fraction(b) for _, b in operands)
    length = len(operands)
    _assert_hull(matrix.sum(axis=0), [(low, high), (-high, -low)])
    _assert_hull(matrix.T.sum(axis=1), [(low, high), (-high, -low)])
    _assert_hull(matrix.mean(axis=0), [(low / length, high / length), (-high / length, -low / length)])
    lows, highs = [Fraction(a) for a, _ in operands], [Fraction(b) for _, b in operands]
    _assert_hull(matrix.max(axis=0), [(max(lows), max(highs)), (-min(highs), -min(lows))])
    _assert_hull(matrix.min(axis=0), [(min(lows), min(highs)), (-max(highs), -max(lows))])


@given(
    st.lists(values(max_exponent=400, min_magnitude=1.0), min_size=1, max_size=20),
    st.lists(values(max_exponent=-100), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
)
def test_sum_with_catastrophic_cancellation(large: list[float], small: list[float], random) -> None:
    """Large terms and their negations around small ones: the float sum loses the small part."""
    terms = large + small + [-v for v in large]
    random.shuffle(terms)
    exact = sum(Fraction(v) for v in small)
    result = Interval.exact(np.array(terms)).sum(axis=0)
    _assert_hull(result.reshape(1), [(exact, exact)])
    fixed = Interval.exact(np.array([2.0**300, 1.0, -(2.0**300)])).sum(axis=0)
    assert fixed.lo <= 1.0 <= fixed.hi


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.data())
def test_matmul(rows: int, inner: int, cols: int, data: st.DataObject) -> None:
    entry = intervals(values(max_exponent=400))
    left = data.draw(st.lists(entry, min_size=rows * inner, max_size=rows * inner))
    right = data.draw(st.lists(entry, min_size=inner * cols, max_size=inner * cols))
    a, b = _array(left).reshape(rows, inner), _array(right).reshape(inner, cols)
    hull = []
    for i in range(rows):
        for j in range(cols):
            terms = [
                _corners(left[i * inner + t], right[t * cols + j], lambda s, u: s * u) for t in range(inner)
            ]
            hull.append((sum(t[0] for t in terms), sum(t[1] for t in terms)))
    _assert_hull(a.matmul(b), hull)


@given(pairs)
def test_scale_nonnegative(operands: list) -> None:
    factors = [(abs(b[0]), abs(b[0]) + abs(b[1])) for _, b in operands]
    x = _array([p[0] for p in operands])
    result = x.scale_nonnegative(_array(factors))
    hull = [_corners(a, f, lambda s, t: s * t) for (a, _), f in zip(operands, factors, strict=True)]
    _assert_hull(result, hull)
    negative = x.scale_nonnegative(Interval.exact(np.full(len(operands), -1.0)))
    assert np.isnan(negative.lo).all() and not negative.bounded_below_by(np.zeros(len(operands))).any()


@given(st.lists(intervals(st.floats(-760.0, 720.0)), min_size=1, max_size=8))
def test_exp(operands: list) -> None:
    result = _array(operands).exp()
    with mpmath.workprec(300):
        for lo, hi, (a, b) in zip(result.lo, result.hi, operands, strict=True):
            assert mpmath.mpf(float(lo)) <= mpmath.exp(a)
            assert hi == math.inf or mpmath.exp(b) <= mpmath.mpf(float(hi))


def test_nan_never_certifies() -> None:
    inf = Interval.exact(np.array([np.inf]))
    zero = Interval.exact(np.array([0.0]))
    nan = Interval.exact(np.array([np.nan]))
    straddling = Interval(np.array([-1.0]), np.array([1.0]))
    with np.errstate(invalid="ignore"):
        results = [
            inf - inf, zero * inf, nan + 1.0, nan * 2.0, nan / 3.0, Interval.exact(1.0) / nan, nan.sqrt(),
            straddling.sqrt() - 5.0, nan.exp(), nan.abs(), nan.maximum(zero), nan.minimum(zero),
            nan.reshape(1, 1).sum(axis=1), nan.reshape(1, 1).max(axis=1), inf.sum(axis=0) - inf.sum(axis=0),
            nan.reshape(1, 1).matmul(zero.reshape(1, 1)),
        ]
    for result in results:
        zero_claims = np.zeros(result.shape)
        assert not np.any(result.bounded_below_by(zero_claims)) and not np.any(result.bounded_above_by(zero_claims))
        assert not np.any(result.strictly_below(0.0))


def test_gamma_upper_bounds_gamma() -> None:
    u = Fraction(1, 2**53)
    for k in (1, 2, 3, 63, 1000, 2**20):
        gamma = k * u / (1 - k * u)
        assert Fraction(gamma_upper(k)) >= gamma / (1 - gamma)
    assert gamma_upper(0) == 0.0


def test_numpy_operands_on_the_left_defer_to_interval() -> None:
    x = Interval(np.array([1.0, 2.0]), np.array([1.5, 2.5]))
    for result in (np.array([1.0, 1.0]) + x, np.float64(2.0) * x, np.array([3.0, 4.0]) - x):
        assert isinstance(result, Interval) and result.shape == (2,)
    with pytest.raises(TypeError):  # no reflected division: never an object array of intervals
        np.ones(2) / x


def test_flop_counts_follow_the_cost_model() -> None:
    a = Interval.exact(np.ones((3, 4)))
    b = Interval.exact(np.ones((4, 5)))
    expectations = [
        (lambda: a.matmul(b), 3 * 5 * 7),
        (lambda: a + a, 12), (lambda: a - 1.0, 12), (lambda: a * a, 12), (lambda: a / 2.0, 12),
        (lambda: -a, 12), (lambda: a.sqrt(), 12), (lambda: a.abs(), 12), (lambda: a.exp(), 12),
        (lambda: a.maximum(a), 12), (lambda: a.minimum(0.0), 12), (lambda: a.scale_nonnegative(a), 12),
        (lambda: a.bounded_above_by(np.ones((3, 4))), 12), (lambda: a.bounded_below_by(np.ones((3, 4))), 12),
        (lambda: a.strictly_below(0.0), 12),
        (lambda: a.sum(axis=1), 3 * 3), (lambda: a.sum(axis=0), 4 * 2), (lambda: a.max(axis=1), 3 * 3),
        (lambda: a.min(axis=0), 4 * 2), (lambda: a.mean(axis=1), 3 * 3 + 3),
        (lambda: Interval.where(np.ones((3, 4), dtype=bool), a, a), 12), (lambda: a[0:2].T.reshape(8), 0),
    ]
    for operation, expected in expectations:
        with flops.counting() as counter:
            operation()
        assert counter.flops == expected
