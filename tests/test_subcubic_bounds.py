"""Subcubic building blocks (SPEC 5.3) against exact references (:mod:`tests.exact_arithmetic`): row-diff
bounds, the sigma_1 bound, the EQKE factors and decompositions of every attention-error knob for any
directions, the svd remainder FIX, the mean-query+diff FIX, counting and the family table."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.kernel import Interval
from checker.strategies import lookup as checker_lookup
from checker.strategies.subcubic import NAMES
from checker.strategies.subcubic_bounds import LogitTerms, case_bound_enclosures, covered_count, mean_query, valid_cases
from checker.strategies.subcubic_eqke import (
    ATTENTION_ERROR_KNOBS,
    SVD_DECOMPOSITION,
    eqke_decomposition,
    hint_schema,
    max_row_diff,
    mean_max_row_diff,
    qk_factors,
    sigma1_upper,
    svd_decomposition,
    svd_error_bounds,
)
from checker.tables import Tables
from compact_proofs import resolve_strategies
from prover import strategies
from prover.strategies.subcubic import family
from prover.subcubic_search import eqke_hints
from tests.exact_arithmetic import (
    OverRoot,
    assert_encloses,
    assert_upper_bound,
    exact_tables,
    fractions_of,
    holds,
    is_positive_definite,
)
from tests.generators import build_model, small_models
from tests.model_factory import random_tensors, write_model
from tests.trust import by_profile

matrices = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31))


def exact_row_ranges(left: np.ndarray, right: np.ndarray) -> list[Fraction]:
    """``range((L R)[q, :])`` in exact rational arithmetic."""
    product = [[sum(Fraction(a) * Fraction(b) for a, b in zip(row, column, strict=True)) for column in right.T]
               for row in left]
    return [max(row) - min(row) for row in product]


@given(matrices)
def test_row_diff_bounds_enclose_exact_row_ranges(shape):
    rows, inner, cols, seed = shape
    rng = np.random.default_rng(seed)
    left, right = rng.standard_normal((rows, inner)), rng.standard_normal((inner, cols)) * 10
    truth = exact_row_ranges(left, right)
    for bound in (max_row_diff, mean_max_row_diff):
        upper = bound(Interval.exact(left), Interval.exact(right)).hi
        assert all(Fraction(float(u)) >= t for u, t in zip(upper, truth, strict=True))


@given(matrices)
def test_sigma1_upper_bounds_the_largest_singular_value(shape):
    """``hi > sigma_1(L R)``, decided exactly: ``hi^2 I - (L R)^T (L R)`` is positive definite. The bound
    is also at most ``min(shape)^(1/16)`` times the float SVD's sigma_1 (its tightness, trace of H^8)."""
    rows, inner, cols, seed = shape
    rng = np.random.default_rng(seed)
    left, right = rng.standard_normal((rows, inner)), rng.standard_normal((inner, cols))
    bound = sigma1_upper(Interval.exact(left), Interval.exact(right)).hi
    product = fractions_of(left) @ fractions_of(right)
    bound_squared = Fraction(float(bound)) ** 2
    assert is_positive_definite(np.diag([bound_squared] * cols).astype(object) - product.T @ product)
    sigma = np.linalg.svd(left @ right, compute_uv=False)[0]
    assert bound <= sigma * min(left.shape + right.shape) ** (1 / 16) * (1 + 1e-9)


# ----------------------------------------------------------------------------- EQKE decompositions
def factors_of(exact) -> tuple[np.ndarray, ...]:
    """The exact X0..X3 of :mod:`checker.strategies.subcubic_eqke` (X0 X1 X2 X3 = s n EQKE')."""
    w, vocab = exact.weights, exact.query_side.shape[0]
    ones = np.full((vocab, 1), Fraction(1), dtype=object)
    return (np.concatenate([exact.query_side, ones], axis=1), np.concatenate([w["W_Q"], w["b_Q"][None]], axis=0),
            w["W_K"].T, exact.key_side.T)


def without(matrix: np.ndarray, direction: np.ndarray, side: str) -> np.ndarray:
    """``M - d (d^T M)`` (left) or ``M - (M d) d^T`` (right), for any real d (exact)."""
    if side == "left":
        return matrix - np.outer(direction, direction @ matrix)
    return matrix - np.outer(matrix @ direction, direction)


def real_ehat(knob: str, exact, hints: dict[str, np.ndarray]) -> OverRoot:
    """The real approximation Ehat of an attention-error knob (SPEC 5.3 step A), in the units of EQKE'."""
    x0, x1, x2, x3 = factors_of(exact)
    n_ctx = exact.weights["W_pos"].shape[0]
    h = {name: fractions_of(value) for name, value in hints.items()}
    if knob == "exact":
        return exact.eqke.times(Fraction(n_ctx))
    if knob in SVD_DECOMPOSITION:  # (u^T A B v) u v^T with A = X0 X1 X2, B = X3
        strength = h["u"] @ x0 @ x1 @ x2 @ x3 @ h["v"]
        scaled = np.outer(h["u"], h["v"]) * strength
    else:  # X0 X1 X2 X3 - m0 m1 m2 m3
        m0 = without(without(x0, h["q1"], "left"), h["q2"], "left")
        m1 = without(x1, np.concatenate([h["uq"], [Fraction(0)]]), "left")
        m2 = without(x2, h["uk"], "right")
        m3 = without(without(x3, h["k1"], "right"), h["k2"], "right")
        scaled = x0 @ x1 @ x2 @ x3 - m0 @ m1 @ m2 @ m3
    return OverRoot(scaled, exact.eqke_prime.root_squared)


def drawn_hints(weights, knob: str, rng: np.random.Generator, realistic: bool) -> dict[str, np.ndarray]:
    """The prover's directions (SPEC 6), or arbitrary ones: not unit, not singular vectors."""
    if realistic:
        return eqke_hints(weights, knob, torch.device("cpu"))
    sizes = {"d": weights.d_model, "V": weights.d_vocab}
    return {name: rng.standard_normal(sizes[schema.shape[0]]) * rng.choice([1e-3, 1.0, 1e3])
            for name, schema in hint_schema(knob).items()}


@settings(max_examples=by_profile(ci=20, long=500))
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1), realistic=st.booleans())
def test_qk_factors_enclose_the_exact_factors_of_eqke_prime(tmp_path_factory, spec, seed, realistic):
    """``x0 ∋ [E + P_{n-1} | 1]``, ``x1 = [W_Q ; b_Q]``, ``x2 = W_K^T``, ``x3 ∋ (n E + sum_p P_p)^T`` and
    ``unscale ∋ 1 / (s n)``; their exact product over ``s n`` differs from the table EQKE (enclosed by
    ``Tables.eqke``) by a constant along each row, the shift that lets the replay use EQKE and EQKP."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    exact, tables = exact_tables(weights), Tables(weights)
    factors = qk_factors(tables)
    for name, value in zip(("x0", "x1", "x2", "x3"), factors_of(exact), strict=True):
        assert_encloses(getattr(factors, name), value, name)
    unscale = OverRoot(np.array(Fraction(1, weights.n_ctx), dtype=object), exact.eqke.root_squared)
    assert_encloses(factors.unscale, unscale, "unscale")
    assert_encloses(tables.eqke, exact.eqke, "EQKE")
    shift = (exact.eqke_prime - exact.eqke.times(Fraction(weights.n_ctx))).ratio
    assert (shift == shift[:, :1]).all()


@pytest.mark.parametrize("knob", ATTENTION_ERROR_KNOBS)
@settings(max_examples=by_profile(ci=6, long=150))
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1), realistic=st.booleans())
def test_eqke_decomposition_is_exact_for_any_directions(tmp_path_factory, knob, spec, seed, realistic):
    """For every attention-error knob and any hint directions: ``Ehat`` encloses the real approximation of
    SPEC 5.3 step A, and ``eps.hi >= max_{i,j} (Err[q, i] - Err[q, j])`` for the real
    ``Err = EQKE' - Ehat`` (exact rationals over the root ``s n``)."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    hints = drawn_hints(weights, knob, np.random.default_rng(seed), realistic)
    ehat, eps = eqke_decomposition(knob, Tables(weights), hints)
    exact = exact_tables(weights)
    approximation = real_ehat(knob, exact, hints)
    assert_encloses(ehat, approximation, f"{knob} Ehat")
    assert_upper_bound(eps.hi, (exact.eqke_prime - approximation).row_range(), f"{knob} eps")


def test_published_svd_remainder_is_not_a_bound(tmp_path):
    """FIX (SPEC 5.3 step A): with an inexact right direction, ``Ar Br`` alone under-estimates the remainder's
    row ranges (exactly compared), while the checker's exact remainder bounds them."""
    tensors = random_tensors(3, vocab=6, n_ctx=3, d_model=4, d_head=3)
    weights = write_model(tmp_path / "model.safetensors", tensors)
    exact = exact_tables(weights)
    factors = qk_factors(Tables(weights))
    x0, x1, x2, x3 = factors_of(exact)
    product = (x0 @ x1 @ x2 @ x3).astype(np.float64)
    wrong = np.random.default_rng(0).standard_normal(weights.d_vocab)
    hints = {"u": np.linalg.svd(product)[0][:, 0], "v": wrong / np.linalg.norm(wrong)}
    _, remainder = svd_decomposition(factors, hints)
    ranges = (exact.eqke_prime - real_ehat("max-diff", exact, hints)).row_range()
    published = (max_row_diff(remainder.ar, remainder.br) * factors.unscale).hi
    fixed = (svd_error_bounds("max-diff", remainder) * factors.unscale).hi
    assert not holds(published, ranges, upper=True).all()
    assert_upper_bound(fixed, ranges, "fixed remainder")


# ----------------------------------------------------------------------------- mean-query+diff FIX
def terms_for(a: list[float], e: list[float], weight: float) -> LogitTerms:
    """Logit terms of one max token m = 0 whose wrong outputs have ``A_y = a``, ``E_y = e``; W = weight."""
    point = Interval.exact
    e_row, a_row = point(np.array([e])), point(np.array([a]))
    return LogitTerms(
        e=e_row, pi=point(np.zeros((1, len(e)))), a=a_row, r=e_row.max(axis=1), e_min=e_row.min(axis=1),
        a_max=a_row.max(axis=1), ranges=point(np.array([weight, weight])),
        ranges_prefix=point(np.array([weight, weight])),
    )


def published_mean_query_bound(a, e, weight, alpha, average) -> Fraction:
    """The published step: ``max_y (A_y + abar E_y) + (1 - abar) W + (alpha - abar)(R - W)``, R = max E
    (exact rationals)."""
    a, e, weight, alpha, average = (fractions_of(value) for value in (a, e, weight, alpha, average))
    return (a + average * e).max() + (1 - average) * weight + (alpha - average) * (e.max() - weight)


def realised(a, e, weight, alpha: Fraction) -> Fraction:
    """``max_y (A_y + alpha E_y) + (1 - alpha) W``: the logit difference when every inequality is tight
    (exact rationals)."""
    a, e, weight = fractions_of(a), fractions_of(e), fractions_of(weight)
    return (a + alpha * e).max() + (1 - alpha) * weight


def checker_bound(a, e, weight, alpha_lo, alpha_hi, average) -> Fraction:
    """The checker's mean-query+diff bound (upper end, exactly) of one case with a non-max slot
    (q = m = 0, c = 1, g = 1)."""
    cases = (np.array([0]), np.array([0]), np.array([1]), np.array([1]))
    terms = terms_for(a, e, weight)
    levels = mean_query(terms, np.full((1, 2), average))
    enclosure = case_bound_enclosures(
        terms, Interval.exact(np.zeros(1)), cases, np.array([alpha_lo]), np.array([alpha_hi]), levels
    )
    upper = float(enclosure.hi[0])
    assert math.isfinite(upper)
    return Fraction(upper)


def test_published_mean_query_step_over_claims_and_the_checker_does_not():
    a, e, weight, alpha, average = [-5.0, 0.0], [0.0, -10.0], 0.0, 0.2, 0.8
    truth = realised(a, e, weight, Fraction(alpha))  # -2
    assert published_mean_query_bound(a, e, weight, alpha, average) < truth  # -5: claims too much
    assert checker_bound(a, e, weight, alpha, alpha, average) >= truth


@given(
    st.lists(st.floats(-10, 10), min_size=2, max_size=5), st.lists(st.floats(-10, 10), min_size=5, max_size=5),
    st.floats(-5, 5), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(-1, 2),
)
def test_checker_mean_query_bound_covers_every_alpha_between_the_claims(a, e, weight, x, y, t, average):
    """``B >= max_y (A_y + alpha E_y) + (1 - alpha) W`` for every real alpha between the claimed ends and any
    real abar (exact: alpha is the rational ``lo + t (hi - lo)``)."""
    e = e[: len(a)]
    alpha_lo, alpha_hi = min(x, y), max(x, y)
    alpha = Fraction(alpha_lo) + Fraction(t) * (Fraction(alpha_hi) - Fraction(alpha_lo))
    assert checker_bound(a, e, weight, alpha_lo, alpha_hi, average) >= realised(a, e, weight, alpha)


# ----------------------------------------------------------------------------- counting and names
@pytest.mark.parametrize(("vocab", "n_ctx"), [(2, 2), (3, 2), (4, 3), (5, 4), (7, 3)])
def test_every_case_good_with_gap_one_covers_every_sequence(vocab, n_ctx):
    good = valid_cases(vocab, n_ctx)
    assert covered_count(good, np.ones(good.shape, dtype=np.int64)) == vocab**n_ctx


def enumerate_covered(good: np.ndarray, gap: np.ndarray) -> int:
    """The sequences the good cases cover, counted one by one (no formula)."""
    vocab, _, n_ctx = good.shape
    count = 0
    for sequence in np.ndindex(*(vocab,) * n_ctx):
        q, m = sequence[-1], max(sequence)
        non_max = [x for x in sequence[:-1] if x != m]
        c = len(non_max) + (q != m)
        count += bool(good[q, m, c]) and all(x <= m - gap[q, m, c] for x in non_max)
    return count


@given(st.integers(2, 5), st.integers(2, 4), st.integers(0, 2**31))
def test_covered_count_matches_enumeration(vocab, n_ctx, seed):
    rng = np.random.default_rng(seed)
    good = valid_cases(vocab, n_ctx) & (rng.random((vocab, vocab, n_ctx)) < 0.7)
    m = np.arange(vocab)[None, :, None]
    gap = np.minimum(rng.integers(1, vocab, size=good.shape), np.maximum(m, 1))
    assert covered_count(good, gap) == enumerate_covered(good, gap)


def test_one_hundred_strategies_in_six_families():
    prover_side = [s for s in strategies.all_strategies() if s.name.startswith("subcubic/")]
    assert len(NAMES) == len(prover_side) == 100
    assert all(checker_lookup(name) is not None for name in NAMES)
    sizes = {}
    for strategy in prover_side:
        sizes[strategy.family] = sizes.get(strategy.family, 0) + 1
    assert sizes == {
        "subcubic": 8, "attention-d_vocab d_model^2": 20, "attention-quadratic": 12, "direct-quadratic": 12,
        "attention-d_vocab d_model^2 + direct-quadratic": 30, "attention-quadratic + direct-quadratic": 18,
    }
    assert family("max-diff-exact", "exact") == "subcubic"
    assert len(resolve_strategies(["subcubic"])) == 100
