"""Subcubic building blocks (SPEC 5.3): row-diff bounds, the sigma_1 bound, the exact decompositions,
the mean-query+diff FIX, counting and the family table."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker.kernel import Interval
from checker.strategies import lookup as checker_lookup
from checker.strategies.subcubic import NAMES
from checker.strategies.subcubic_bounds import LogitTerms, case_bound_enclosures, covered_count, valid_cases
from checker.strategies.subcubic_eqke import (
    max_row_diff,
    mean_max_row_diff,
    qk_factors,
    sigma1_upper,
    subproduct_decomposition,
    subproduct_error_bounds,
    svd_decomposition,
    svd_error_bounds,
)
from checker.tables import Tables
from compact_proofs import resolve_strategies
from prover import strategies
from prover.strategies.subcubic import family
from tests.model_factory import random_tensors, write_model

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
    rows, inner, cols, seed = shape
    rng = np.random.default_rng(seed)
    left, right = rng.standard_normal((rows, inner)), rng.standard_normal((inner, cols))
    sigma = np.linalg.svd(left @ right, compute_uv=False)[0]
    bound = sigma1_upper(Interval.exact(left), Interval.exact(right)).hi
    assert bound >= sigma * (1 - 1e-12)  # numpy's SVD is accurate to a few ulps
    assert bound <= sigma * min(left.shape + right.shape) ** (1 / 16) * (1 + 1e-9)


def small_model(tmp_path, seed: int, biases: bool = True):
    tensors = random_tensors(seed, vocab=6, n_ctx=3, d_model=4, d_head=3, biases=biases)
    return write_model(tmp_path / "model.safetensors", tensors)


def eqke_prime(weights) -> np.ndarray:
    """float64 EQKE' = Q(E~q) (E~k W_K)^T / s (reference for the decompositions)."""
    embed, positions = weights.W_E.astype(np.float64), weights.W_pos.astype(np.float64)
    queries = (embed + positions[-1]) @ weights.W_Q.astype(np.float64) + weights.b_Q
    keys = (embed + positions.mean(axis=0)) @ weights.W_K.astype(np.float64)
    return queries @ keys.T / math.sqrt(weights.attn_scale_squared)


def midpoint(interval: Interval) -> np.ndarray:
    return (interval.lo + interval.hi) / 2


@given(st.integers(0, 2**31), st.integers(0, 2**31))
def test_decompositions_are_exact_for_any_directions(tmp_path_factory, model_seed, hint_seed):
    """eps bounds the row ranges of EQKE' - Ehat for arbitrary (not singular, not unit) hint vectors."""
    weights = small_model(tmp_path_factory.mktemp("m"), model_seed)
    rng = np.random.default_rng(hint_seed)
    vocab, d_model = weights.d_vocab, weights.d_model
    factors = qk_factors(Tables(weights))
    truth = eqke_prime(weights)
    hints = {"u": rng.standard_normal(vocab), "v": rng.standard_normal(vocab)}
    ehat, remainder = svd_decomposition(factors, hints)
    error = truth - midpoint(ehat)
    ranges = error.max(axis=1) - error.min(axis=1)
    for knob in ("svd", "max-diff", "mean+max-diff"):
        eps = (svd_error_bounds(knob, remainder) * factors.unscale).hi
        assert (eps >= ranges - 1e-9 * (1 + ranges)).all(), knob
    hints = {name: rng.standard_normal(vocab) for name in ("q1", "q2", "k1", "k2")}
    hints |= {"uq": rng.standard_normal(d_model), "uk": rng.standard_normal(d_model)}
    ehat, parts = subproduct_decomposition(factors, hints)
    error = truth - midpoint(ehat)
    ranges = error.max(axis=1) - error.min(axis=1)
    for knob in ("max-diff-subproduct", "mean+max-diff-subproduct", "max-diff-subproduct-recursive",
                 "mean+max-diff-subproduct-recursive", "mean-recursive+max-diff-subproduct-recursive"):
        eps = (subproduct_error_bounds(knob, parts) * factors.unscale).hi
        assert (eps >= ranges - 1e-9 * (1 + ranges)).all(), knob


def test_published_svd_remainder_is_not_a_bound(tmp_path):
    """FIX (SPEC 5.3 step A): with an inexact right direction, ``Ar Br`` alone under-estimates the remainder."""
    weights = small_model(tmp_path, 3)
    factors = qk_factors(Tables(weights))
    product = midpoint(factors.x0) @ midpoint(factors.x1) @ midpoint(factors.x2) @ midpoint(factors.x3)
    wrong = np.random.default_rng(0).standard_normal(weights.d_vocab)
    hints = {"u": np.linalg.svd(product)[0][:, 0], "v": wrong / np.linalg.norm(wrong)}
    ehat, remainder = svd_decomposition(factors, hints)
    error = eqke_prime(weights) - midpoint(ehat)
    ranges = error.max(axis=1) - error.min(axis=1)
    published = (max_row_diff(remainder.ar, remainder.br) * factors.unscale).hi
    fixed = (svd_error_bounds("max-diff", remainder) * factors.unscale).hi
    assert (published < ranges).any()
    assert (fixed >= ranges - 1e-9 * (1 + ranges)).all()


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


def published_mean_query_bound(a, e, weight, alpha, average) -> float:
    """The published step: ``max_y (A_y + abar E_y) + (1 - abar) W + (alpha - abar)(R - W)``, R = max E."""
    return max(x + average * y for x, y in zip(a, e, strict=True)) + (1 - average) * weight + (
        alpha - average) * (max(e) - weight)


def realised(a, e, weight, alpha) -> float:
    """``max_y (A_y + alpha E_y) + (1 - alpha) W``: the logit difference when every inequality is tight."""
    return max(x + alpha * y for x, y in zip(a, e, strict=True)) + (1 - alpha) * weight


def checker_bound(a, e, weight, alpha_lo, alpha_hi, average) -> float:
    """The checker's mean-query+diff bound of one case with a non-max slot (q = m = 0, c = 1, g = 1)."""
    cases = (np.array([0]), np.array([0]), np.array([1]), np.array([1]))
    terms = terms_for(a, e, weight)
    averages = np.full((1, 2), average)
    enclosure = case_bound_enclosures(
        terms, Interval.exact(np.zeros(1)), cases, np.array([alpha_lo]), np.array([alpha_hi]), averages
    )
    return float(enclosure.hi[0])


def test_published_mean_query_step_over_claims_and_the_checker_does_not():
    a, e, weight, alpha, average = [-5.0, 0.0], [0.0, -10.0], 0.0, 0.2, 0.8
    truth = realised(a, e, weight, alpha)  # -2
    assert published_mean_query_bound(a, e, weight, alpha, average) < truth  # -5: claims too much
    assert checker_bound(a, e, weight, alpha, alpha, average) >= truth


@given(
    st.lists(st.floats(-10, 10), min_size=2, max_size=5), st.lists(st.floats(-10, 10), min_size=5, max_size=5),
    st.floats(-5, 5), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1),
)
def test_checker_mean_query_bound_covers_every_alpha_between_the_claims(a, e, weight, x, y, t, average):
    e = e[: len(a)]
    alpha_lo, alpha_hi = min(x, y), max(x, y)
    alpha = alpha_lo + t * (alpha_hi - alpha_lo)
    assert checker_bound(a, e, weight, alpha_lo, alpha_hi, average) >= realised(a, e, weight, alpha) - 1e-9


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


def test_tables_are_shift_equivalent(tmp_path):
    """Row differences of EQKE' and of the table EQKE agree (what lets the replay use EQKE and EQKP)."""
    weights = small_model(tmp_path, 11)
    table = midpoint(Tables(weights).eqke)
    difference = eqke_prime(weights) - table
    assert np.allclose(difference, difference[:, :1], atol=1e-9)
