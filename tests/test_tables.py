"""Exact tables: every entry's enclosure contains the Fraction value and is at most 2 floats wide, and the
SPEC 1 identities hold against an independent 200-bit forward pass. Also unit tests of ExactMatrix."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from certificates.model_file import ModelWeights
from checker.kernel import Interval, flops
from checker.kernel.exact import ExactMatrix, _enclose
from checker.tables import Tables

DBL_MAX = float(np.finfo(np.float64).max)
ETA = 2.0**-1074
SCALES_SQUARED = [Fraction(7, 3), Fraction(4), Fraction(9, 4), Fraction(1, 1000), Fraction(123456789, 1000)]


def _float32_matrix(rng: np.random.Generator, shape: tuple[int, ...], extreme: bool) -> np.ndarray:
    """Gaussian float32 values at a random scale, with some zeros and subnormals; ``extreme`` adds
    entries 2^40 times larger (wide exponent ranges)."""
    values = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)
    special = rng.random(shape)
    values = np.where(special < 0.05, 0.0, values)
    values = np.where((special >= 0.05) & (special < 0.08), values * 1e-40, values)  # float32 subnormal
    if extreme:
        values = np.where((special >= 0.08) & (special < 0.10), values * 2.0**40, values)
    return values.astype(np.float32)


def random_weights(
    seed: int, vocab: int, n_ctx: int, d_model: int, d_head: int, scale_squared: Fraction,
    extreme: bool = True,
) -> ModelWeights:
    """A ModelWeights with nonzero biases and the given attention scale squared."""
    rng = np.random.default_rng(seed)

    def draw(*shape: int) -> np.ndarray:
        return _float32_matrix(rng, shape, extreme)

    return ModelWeights(
        W_E=draw(vocab, d_model),
        W_pos=draw(n_ctx, d_model),
        W_Q=draw(d_model, d_head),
        W_K=draw(d_model, d_head),
        W_V=draw(d_model, d_head),
        W_O=draw(d_head, d_model),
        b_Q=draw(d_head),
        b_K=draw(d_head),
        b_V=draw(d_head),
        b_O=draw(d_model),
        W_U=draw(d_model, vocab),
        b_U=draw(vocab),
        attn_scale_squared=scale_squared,
        digest="test",
        config={},
    )


# ----------------------------------------------------------------------------- exact reference
def _fractions(array: np.ndarray) -> list:
    if array.ndim == 1:
        return [Fraction(float(v)) for v in array]
    return [_fractions(row) for row in array]


def _matmul(a: list[list[Fraction]], b: list[list[Fraction]]) -> list[list[Fraction]]:
    return [[sum((a[i][t] * b[t][j] for t in range(len(b))), Fraction(0)) for j in range(len(b[0]))]
            for i in range(len(a))]


def _add_row(a: list[list[Fraction]], row: list[Fraction]) -> list[list[Fraction]]:
    return [[x + y for x, y in zip(r, row, strict=True)] for r in a]


def reference_tables(weights: ModelWeights) -> dict[str, list[list[Fraction]]]:
    """The five tables in exact rational arithmetic (EQKE and EQKP before the division by s)."""
    E, P = _fractions(weights.W_E), _fractions(weights.W_pos)
    W_Q, W_K, W_V, W_O, W_U = (_fractions(w) for w in (weights.W_Q, weights.W_K, weights.W_V, weights.W_O,
                                                       weights.W_U))
    b_Q, b_K, b_V, b_O, b_U = (_fractions(b) for b in (weights.b_Q, weights.b_K, weights.b_V, weights.b_O,
                                                       weights.b_U))
    query_side = _add_row(E, P[-1])
    queries = _add_row(_matmul(query_side, W_Q), b_Q)
    keys_tokens = _matmul(E, W_K)
    keys_positions = _add_row(_matmul(P, W_K), b_K)
    transpose = lambda m: [list(col) for col in zip(*m, strict=True)]  # noqa: E731
    return {
        "eqke": _matmul(queries, transpose(keys_tokens)),
        "eqkp": _matmul(queries, transpose(keys_positions)),
        "evou": _matmul(_matmul(_matmul(E, W_V), W_O), W_U),
        "pvou": _matmul(_matmul(_add_row(_matmul(P, W_V), b_V), W_O), W_U),
        "eupu": _add_row(_add_row(_matmul(query_side, W_U), b_U), _matmul([b_O], W_U)[0]),
    }


def _assert_tight_enclosure(lo: float, hi: float, value: Fraction, scale_squared: Fraction | None) -> None:
    """lo <= value / sqrt(scale_squared) <= hi, lo and hi equal or adjacent floats."""
    assert hi == lo or hi == math.nextafter(lo, math.inf), (lo, hi)
    if scale_squared is None:
        assert Fraction(lo) <= value <= Fraction(hi)
        return
    if lo == hi:  # claimed exact: check it exactly
        assert Fraction(lo) ** 2 * scale_squared == value**2 and (lo >= 0) == (value >= 0)
        return
    with mpmath.workprec(400):
        exact = mpmath.mpf(value.numerator) / value.denominator / mpmath.sqrt(
            mpmath.mpf(scale_squared.numerator) / scale_squared.denominator
        )
        assert mpmath.mpf(lo) < exact < mpmath.mpf(hi), (lo, hi, exact)


@given(
    st.integers(0, 2**32), st.integers(3, 8), st.integers(2, 4), st.integers(2, 6), st.integers(1, 6),
    st.sampled_from([None, *SCALES_SQUARED]),
)
def test_every_entry_is_a_tight_enclosure(seed, vocab, n_ctx, d_model, d_head, scale_squared) -> None:
    scale_squared = Fraction(d_head) if scale_squared is None else scale_squared
    weights = random_weights(seed, vocab, n_ctx, d_model, d_head, scale_squared)
    tables = Tables(weights)
    reference = reference_tables(weights)
    shapes = {"eqke": (vocab, vocab), "eqkp": (vocab, n_ctx), "evou": (vocab, vocab), "pvou": (n_ctx, vocab),
              "eupu": (vocab, vocab)}
    for name, exact in reference.items():
        table = getattr(tables, name)
        assert table.shape == shapes[name]
        scale = scale_squared if name in ("eqke", "eqkp") else None
        for i, row in enumerate(exact):
            for j, value in enumerate(row):
                _assert_tight_enclosure(float(table.lo[i, j]), float(table.hi[i, j]), value, scale)


# ----------------------------------------------------------------------------- identities vs forward pass
def _forward(weights: ModelWeights, tokens: list[int]) -> tuple[list, list, list]:
    """200-bit forward pass of SPEC 1: (scores a_p, attention alpha_p, logits at the last position)."""
    mp = lambda array: [[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(array)]  # noqa: E731
    E, P, W_Q, W_K, W_V, W_O, W_U = (mp(w) for w in (weights.W_E, weights.W_pos, weights.W_Q, weights.W_K,
                                                       weights.W_V, weights.W_O, weights.W_U))
    b_Q, b_K, b_V, b_O, b_U = (mp(b)[0] for b in (weights.b_Q, weights.b_K, weights.b_V, weights.b_O,
                                                     weights.b_U))
    d, h, n = len(W_Q), len(W_Q[0]), len(tokens)
    vec_mat = lambda v, m: [mpmath.fsum(v[t] * m[t][j] for t in range(len(m))) for j in range(len(m[0]))]  # noqa: E731
    resid = [[E[x][j] + P[p][j] for j in range(d)] for p, x in enumerate(tokens)]
    query = [a + b for a, b in zip(vec_mat(resid[-1], W_Q), b_Q, strict=True)]
    scale_squared = weights.attn_scale_squared
    scale = mpmath.sqrt(mpmath.mpf(scale_squared.numerator) / scale_squared.denominator)
    scores = []
    for p in range(n):
        key = [a + b for a, b in zip(vec_mat(resid[p], W_K), b_K, strict=True)]
        scores.append(mpmath.fsum(query[i] * key[i] for i in range(h)) / scale)
    top = max(scores)
    weights_exp = [mpmath.exp(a - top) for a in scores]
    alpha = [w / mpmath.fsum(weights_exp) for w in weights_exp]
    mixed = [mpmath.fsum(alpha[p] * (vec_mat(resid[p], W_V)[i] + b_V[i]) for p in range(n)) for i in range(h)]
    attn_out = [a + b for a, b in zip(vec_mat(mixed, W_O), b_O, strict=True)]
    final = [resid[-1][j] + attn_out[j] for j in range(d)]
    logits = [a + b for a, b in zip(vec_mat(final, W_U), b_U, strict=True)]
    return scores, alpha, logits


@given(st.integers(0, 2**32), st.integers(3, 6), st.integers(2, 4), st.integers(2, 5), st.integers(1, 5),
       st.sampled_from(SCALES_SQUARED), st.data())
def test_identities_against_a_forward_pass(seed, vocab, n_ctx, d_model, d_head, scale_squared, data) -> None:
    weights = random_weights(seed, vocab, n_ctx, d_model, d_head, scale_squared, extreme=False)
    t = Tables(weights)
    tokens = data.draw(st.lists(st.integers(0, vocab - 1), min_size=n_ctx, max_size=n_ctx))
    q = tokens[-1]
    with mpmath.workprec(200):
        scores, alpha, logits = _forward(weights, tokens)
        slack = lambda v: (abs(v) + 1) * mpmath.mpf(2) ** -100  # noqa: E731  (200-bit rounding)
        for p, x in enumerate(tokens):
            low = mpmath.mpf(float(t.eqke.lo[q, x])) + mpmath.mpf(float(t.eqkp.lo[q, p]))
            high = mpmath.mpf(float(t.eqke.hi[q, x])) + mpmath.mpf(float(t.eqkp.hi[q, p]))
            assert low - slack(low) <= scores[p] <= high + slack(high)
        for y in range(vocab):
            low = mpmath.mpf(float(t.eupu.lo[q, y])) + mpmath.fsum(
                alpha[p] * (mpmath.mpf(float(t.evou.lo[x, y])) + mpmath.mpf(float(t.pvou.lo[p, y])))
                for p, x in enumerate(tokens))
            high = mpmath.mpf(float(t.eupu.hi[q, y])) + mpmath.fsum(
                alpha[p] * (mpmath.mpf(float(t.evou.hi[x, y])) + mpmath.mpf(float(t.pvou.hi[p, y])))
                for p, x in enumerate(tokens))
            assert low - slack(low) <= logits[y] <= high + slack(high)


# ----------------------------------------------------------------------------- cost and speed
V_, N_, D_, H_ = 5, 3, 4, 2
MM = flops.matmul_cost
QUERY_SIDE = V_ * D_
EQKE_COST = QUERY_SIDE + MM(V_, D_, H_) + V_ * H_ + MM(V_, D_, H_) + MM(V_, H_, V_) + 1 + V_ * V_
KEY_POSITIONS = MM(N_, D_, H_) + N_ * H_
EQKP_COST = QUERY_SIDE + KEY_POSITIONS + MM(D_, H_, N_) + MM(1, H_, N_) + MM(V_, D_, N_) + V_ * N_ + 1 + V_ * N_
EVOU_COST = MM(V_, D_, H_) + MM(V_, H_, D_) + MM(V_, D_, V_)
PVOU_COST = MM(N_, D_, H_) + N_ * H_ + MM(N_, H_, D_) + MM(N_, D_, V_)
OUTPUT_BIAS = MM(1, D_, V_) + V_
EUPU_ROW = MM(1, D_, V_) + V_
KEY_SIDE = V_ * D_ + (N_ - 1) * D_ + V_ * D_
"""The documented cost (:mod:`checker.tables`) of each read, at V, n, d, h = 5, 3, 4, 2."""


@pytest.mark.parametrize(("read", "expected"), [
    (lambda t: t.eqke, EQKE_COST),
    (lambda t: t.eqkp, EQKP_COST),
    (lambda t: t.evou, EVOU_COST),
    (lambda t: t.pvou, PVOU_COST),
    (lambda t: t.eupu, OUTPUT_BIAS + QUERY_SIDE + V_ * EUPU_ROW),
    (lambda t: t.eupu_rows(np.array([3, 1, 3])), OUTPUT_BIAS + QUERY_SIDE + 2 * EUPU_ROW),
    (lambda t: t.query_side, QUERY_SIDE),
    (lambda t: t.key_side, KEY_SIDE),
], ids=["eqke", "eqkp", "evou", "pvou", "eupu", "eupu-rows", "query-side", "key-side"])
def test_each_read_is_charged_its_documented_cost_once(read, expected) -> None:
    tables = Tables(random_weights(1, V_, N_, D_, H_, Fraction(H_)))
    with flops.counting() as first:
        read(tables)
        read(tables)
    with flops.counting() as second:  # a second replay of the same model: values reused, charged again
        read(tables)
    assert first.flops == second.flops == expected


def test_shared_parts_are_charged_once_per_replay() -> None:
    tables = Tables(random_weights(1, V_, N_, D_, H_, Fraction(H_)))
    with flops.counting() as counter:
        for read in (lambda t: t.eqke, lambda t: t.eqkp, lambda t: t.eupu):
            read(tables)
    shared = 2 * QUERY_SIDE  # the query side, counted in the cost of each of the three
    assert counter.flops == EQKE_COST + EQKP_COST + OUTPUT_BIAS + QUERY_SIDE + V_ * EUPU_ROW - shared


# ----------------------------------------------------------------------------- ExactMatrix
def _exact(ints: list[int], exponent: int) -> ExactMatrix:
    array = np.empty(len(ints), dtype=object)
    array[:] = ints
    return ExactMatrix(array, exponent)


def _values(matrix: ExactMatrix) -> list[Fraction]:
    return [Fraction(int(v)) * Fraction(2) ** matrix.exponent for v in matrix.ints.ravel()]


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=12))
def test_from_float32_is_exact(values: list[float]) -> None:
    array = np.array(values, dtype=np.float32)
    assert _values(ExactMatrix.from_float32(array)) == [Fraction(float(v)) for v in array]


def test_from_float32_rejects_non_finite_and_other_dtypes() -> None:
    with pytest.raises(ValueError):
        ExactMatrix.from_float32(np.array([1.0, np.nan], dtype=np.float32))
    with pytest.raises(TypeError):
        ExactMatrix.from_float32(np.array([0.1]))


def test_sums_products_and_broadcasts_are_exact() -> None:
    a = np.array([[1.5, -2.0**-130], [3e38, 0.25]], dtype=np.float32)
    b = np.array([[2.0**-149, 7.0], [-1.0, 1e-3]], dtype=np.float32)
    v = np.array([0.1, -5.0], dtype=np.float32)
    A, B, vec = ExactMatrix.from_float32(a), ExactMatrix.from_float32(b), ExactMatrix.from_float32(v)
    fa, fb, fv = _fractions(a), _fractions(b), _fractions(v)
    assert _values(A + B) == [fa[i][j] + fb[i][j] for i in range(2) for j in range(2)]
    assert _values(A @ B) == [x for row in _matmul(fa, fb) for x in row]
    assert _values(A.T) == [fa[j][i] for i in range(2) for j in range(2)]
    assert _values(A + vec.as_row()) == [fa[i][j] + fv[j] for i in range(2) for j in range(2)]
    assert _values(vec.as_row() @ A) == _matmul([fv], fa)[0]
    with pytest.raises(ValueError):
        A @ ExactMatrix.from_float32(np.ones((3, 2), dtype=np.float32))


@pytest.mark.parametrize(
    ("ints", "exponent", "expected"),
    [
        ([0], 0, (0.0, 0.0)),
        ([3], -1, (1.5, 1.5)),
        ([1], 1024, (DBL_MAX, math.inf)),
        ([-1], 1024, (-math.inf, -DBL_MAX)),
        ([2**53 - 1], 971, (DBL_MAX, DBL_MAX)),
        ([2**54 - 1], 970, (DBL_MAX, math.inf)),
        ([1], -1100, (0.0, ETA)),
        ([-1], -1100, (-ETA, -0.0)),
        ([3], -1075, (ETA, 2 * ETA)),
        ([2**53 + 1], 0, (2.0**53, 2.0**53 + 2)),
        ([-(2**53 + 1)], 0, (-(2.0**53) - 2, -(2.0**53))),
    ],
)
def test_rounding_once_to_adjacent_floats(ints: list[int], exponent: int, expected: tuple) -> None:
    enclosure = _exact(ints, exponent).to_interval()
    assert (float(enclosure.lo[0]), float(enclosure.hi[0])) == expected


@given(st.integers(-(2**80), 2**80), st.integers(-1200, 900),
       st.fractions(min_value=Fraction(1, 10**6), max_value=10**6))
def test_division_by_the_scale_is_tight(value: int, exponent: int, scale_squared: Fraction) -> None:
    enclosure = _exact([value], exponent).to_interval(scale_squared)
    exact = Fraction(value) * Fraction(2) ** exponent
    _assert_tight_enclosure(float(enclosure.lo[0]), float(enclosure.hi[0]), exact, scale_squared)


def test_exact_division_by_a_rational_square_root() -> None:
    enclosure = _exact([3, -6, 0, 1], -2).to_interval(Fraction(9, 4))  # s = 3/2
    assert isinstance(enclosure, Interval)
    assert list(enclosure.lo[:3]) == list(enclosure.hi[:3]) == [0.5, -1.0, 0.0]
    lo, hi = float(enclosure.lo[3]), float(enclosure.hi[3])
    assert Fraction(lo) < Fraction(1, 6) < Fraction(hi) and hi == math.nextafter(lo, math.inf)


@given(st.lists(st.one_of(st.integers(-(2**60), 2**60), st.integers(-(2**1100), 2**1100)), min_size=1, max_size=8),
       st.integers(-1300, 1100))
def test_vectorised_rounding_equals_the_scalar_rounding(ints: list[int], exponent: int) -> None:
    enclosure = _exact(ints, exponent).to_interval()
    for value, lo, hi in zip(ints, enclosure.lo, enclosure.hi, strict=True):
        expected = _enclose(value, exponent, 1, 1)
        assert (float(lo), float(hi)) == expected and math.copysign(1, lo) == math.copysign(1, expected[0])
