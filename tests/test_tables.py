"""Exact tables: every entry's enclosure contains the Fraction value and is at most 2 floats wide, EUPU read by
rows is EUPU, and the SPEC 1 identities hold against an independent exact forward pass. Also unit tests of
ExactMatrix."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from certificates.model_file import ModelWeights
from checker.kernel import Interval, flops
from checker.kernel.exact import ExactMatrix, _enclose
from checker.tables import Tables
from tests.exact_arithmetic import (
    WEIGHT_NAMES,
    OverRoot,
    assert_encloses,
    at_most_over_root,
    exact_tables,
    fractions_of,
    holds,
)

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
def _assert_tight_enclosure(lo: float, hi: float, value: Fraction, scale_squared: Fraction | None) -> None:
    """lo <= value / sqrt(scale_squared) <= hi, compared exactly, with lo and hi equal or adjacent floats."""
    assert hi == lo or hi == math.nextafter(lo, math.inf), (lo, hi)
    exact = OverRoot(np.array(value, dtype=object), Fraction(scale_squared or 1))
    assert holds(np.array(lo), exact, upper=False) and holds(np.array(hi), exact, upper=True), (lo, hi, value)


@given(
    st.integers(0, 2**32), st.integers(3, 8), st.integers(2, 4), st.integers(2, 6), st.integers(1, 6),
    st.sampled_from([None, *SCALES_SQUARED]),
)
def test_every_entry_is_a_tight_enclosure(seed, vocab, n_ctx, d_model, d_head, scale_squared) -> None:
    scale_squared = Fraction(d_head) if scale_squared is None else scale_squared
    weights = random_weights(seed, vocab, n_ctx, d_model, d_head, scale_squared)
    tables = Tables(weights)
    reference = exact_tables(weights)
    shapes = {"eqke": (vocab, vocab), "eqkp": (vocab, n_ctx), "evou": (vocab, vocab), "pvou": (n_ctx, vocab),
              "eupu": (vocab, vocab)}
    for name, shape in shapes.items():
        table, exact = getattr(tables, name), getattr(reference, name)
        assert table.shape == shape
        values, scale = (exact.ratio, scale_squared) if name in ("eqke", "eqkp") else (exact, None)
        for (i, j), value in np.ndenumerate(values):
            _assert_tight_enclosure(float(table.lo[i, j]), float(table.hi[i, j]), value, scale)


@given(st.integers(0, 2**32), st.integers(1, 6), st.integers(2, 4), st.integers(1, 5), st.data())
def test_eupu_rows_are_the_rows_of_eupu(seed, vocab, d_model, n_ctx, data) -> None:
    """``eupu_rows(rows)`` is ``eupu[rows]`` entry for entry (repeats and any order; no rows gives [0, V]),
    and encloses the exact rows ``EUPU[rows, :]``."""
    weights = random_weights(seed, vocab, n_ctx, d_model, 2, Fraction(2))
    rows = np.array(data.draw(st.lists(st.integers(0, vocab - 1), max_size=2 * vocab)), dtype=np.int64)
    part, whole = Tables(weights).eupu_rows(rows), Tables(weights).eupu
    assert part.shape == (rows.size, vocab)
    assert (part.lo == whole.lo[rows]).all() and (part.hi == whole.hi[rows]).all()
    if rows.size:
        assert_encloses(part, exact_tables(weights).eupu[rows], "EUPU rows")





# ----------------------------------------------------------------------------- identities vs forward pass
def _forward(weights: ModelWeights, tokens: list[int], alpha: np.ndarray) -> tuple[OverRoot, np.ndarray]:
    """SPEC 1's forward pass in exact arithmetic from the raw weights: the scores ``a_p`` and the logits at the
    last position for attention weights ``alpha`` (any rationals summing to 1; the identities hold for all)."""
    w = {name: fractions_of(getattr(weights, name)) for name in WEIGHT_NAMES}
    resid = w["W_E"][tokens] + w["W_pos"]  # [n, d]
    query = resid[-1] @ w["W_Q"] + w["b_Q"]
    scores = OverRoot((resid @ w["W_K"] + w["b_K"]) @ query, Fraction(weights.attn_scale_squared))
    mixed = alpha @ (resid @ w["W_V"] + w["b_V"])
    final = resid[-1] + mixed @ w["W_O"] + w["b_O"]
    return scores, final @ w["W_U"] + w["b_U"]


@given(st.integers(0, 2**32), st.integers(3, 6), st.integers(2, 4), st.integers(2, 5), st.integers(1, 5),
       st.sampled_from(SCALES_SQUARED), st.data())
def test_identities_against_a_forward_pass(seed, vocab, n_ctx, d_model, d_head, scale_squared, data) -> None:
    """Exactly: ``EQKE[q, x_p] + EQKP[q, p]`` (through the checker's enclosures) brackets the score ``a_p`` and
    ``EUPU[q, y] + sum_p alpha_p (EVOU[x_p, y] + PVOU[p, y])`` the logit ``y``, for any attention weights."""
    weights = random_weights(seed, vocab, n_ctx, d_model, d_head, scale_squared, extreme=False)
    t = Tables(weights)
    tokens = data.draw(st.lists(st.integers(0, vocab - 1), min_size=n_ctx, max_size=n_ctx))
    parts = fractions_of(np.random.default_rng(seed).random(n_ctx) + 0.01)
    alpha = parts / parts.sum()
    scores, logits = _forward(weights, tokens, alpha)
    q, positions = tokens[-1], np.arange(n_ctx)

    def table_sum(end: str) -> tuple[np.ndarray, np.ndarray]:
        score = fractions_of(getattr(t.eqke, end)[q, tokens]) + fractions_of(getattr(t.eqkp, end)[q, positions])
        value = fractions_of(getattr(t.evou, end)[tokens]) + fractions_of(getattr(t.pvou, end))
        return score, fractions_of(getattr(t.eupu, end)[q]) + alpha @ value

    (low_score, low_logit), (high_score, high_logit) = table_sum("lo"), table_sum("hi")
    assert (low_logit <= logits).all() and (logits <= high_logit).all()
    root = scores.root_squared
    for low, score, high in zip(low_score, scores.ratio, high_score, strict=True):
        assert at_most_over_root(low, root, score) and at_most_over_root(-high, root, -score)


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
    fa, fb, fv = fractions_of(a), fractions_of(b), fractions_of(v)
    assert _values(A + B) == list((fa + fb).ravel())
    assert _values(A @ B) == list((fa @ fb).ravel())
    assert _values(A.T) == list(fa.T.ravel())
    assert _values(A + vec.as_row()) == list((fa + fv).ravel())
    assert _values(vec.as_row() @ A) == list(fv @ fa)
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
