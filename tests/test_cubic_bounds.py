"""The cubic family's steps (:mod:`checker.strategies.cubic_bounds`, :mod:`checker.strategies.cubic_ov_chord`)
against exact references: the centred tables and the chord coefficient in rationals, the softmax factors
and, for every sequence of small models (enumerated), the attention and logits bracketed at 200 bits
(:mod:`tests.exact_arithmetic`). Each test states the inequality of the function's docstring it checks."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from checker.strategies.cubic import cubic_coefficient
from checker.strategies.cubic_bounds import case_attention, case_bounds, logit_paths, softmax_factors, valid_cases
from checker.strategies.cubic_ov_chord import chord_coefficient, chord_condition_holds, share_ratio
from checker.tables import Tables
from tests.coverage import cubic_covered
from tests.exact_arithmetic import (
    MODERATE,
    Bracket,
    OverRoot,
    assert_encloses,
    assert_upper_bound,
    centred,
    compared,
    exact_tables,
    exp_brackets,
    fractions_of,
    positional_worst,
    sequence_truths,
)
from tests.generators import TRAINED_EXAMPLE, build_model, ordering_hint, random_ordering, small_models
from tests.trust import by_profile

EXAMPLES = by_profile(ci=12, long=300)


def exact_ov(exact) -> tuple[np.ndarray, np.ndarray]:
    """``pi[m, j] = max_p PVOU'[p, m, j]`` and ``ov[t, m, j] = EVOU'[t, m, j] + pi[m, j]`` (exact)."""
    pi = positional_worst(exact)
    return pi, centred(exact.evou) + pi[None]


def exact_chord_coefficient(ov: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``coef[k, m, c] = h[m] + (g_k(w) - h[m]) / w``, ``g_k(w) = max_j ((1-w) ov[m, m, j] + w ov[k, m, j])``,
    ``w = weight[m, c]`` (exact)."""
    w = fractions_of(weight)
    tokens = np.arange(ov.shape[0])
    own = ov[tokens, tokens]  # [m, j]
    own_max = own.max(axis=-1)[None, :, None]  # h[m]
    mixed = own[None, :, None, :] * (1 - w)[None, :, :, None] + ov[:, :, None, :] * w[None, :, :, None]
    return own_max + (mixed.max(axis=-1) - own_max) / w[None]


@settings(max_examples=EXAMPLES)
@given(spec=small_models())
def test_logit_paths_enclose_the_centred_tables(tmp_path_factory, spec):
    """Every field of LogitPaths encloses its definition on the exact tables: ``eupu = EUPU'``,
    ``evou = EVOU'``, ``pi = max_p PVOU'``, ``ov = evou + pi``, ``u = max_j eupu``, ``h = max_j ov``."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    exact = exact_tables(weights)
    paths = logit_paths(Tables(weights))
    pi, ov = exact_ov(exact)
    eupu = centred(exact.eupu)
    for name, value in (("eupu", eupu), ("evou", centred(exact.evou)), ("pi", pi), ("ov", ov),
                        ("u", eupu.max(axis=-1)), ("h", ov.max(axis=-1))):
        assert_encloses(getattr(paths, name), value, name)


@settings(max_examples=EXAMPLES)
@given(spec=small_models())
def test_softmax_factors_enclose_the_shifted_exponentials(tmp_path_factory, spec):
    """``token[q, t] ∋ exp(EQKE[q, t] - r_q)``, ``position[q, p] ∋ exp(EQKP[q, p] - s_q)`` (p < n-1) and
    ``query[q] ∋ exp(EQKE[q, q] + EQKP[q, n-1] - r_q - s_q)``, with the documented shifts (the anchors: the
    largest lower endpoints of the rows of EQKE and of EQKP[:, :n-1])."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables, exact = Tables(weights), exact_tables(weights)
    n_ctx, diagonal = weights.n_ctx, np.arange(weights.d_vocab)
    token_shift = fractions_of(tables.eqke.lo.max(axis=1))
    position_shift = fractions_of(tables.eqkp.lo[:, : n_ctx - 1].max(axis=1))
    token, position, query = softmax_factors(tables)
    assert_encloses(token, exp_brackets(exact.eqke, token_shift[:, None]), "token")
    assert_encloses(position, exp_brackets(exact.eqkp[:, : n_ctx - 1], position_shift[:, None]), "position")
    query_score = OverRoot(exact.eqke.ratio[diagonal, diagonal] + exact.eqkp.ratio[:, n_ctx - 1],
                           exact.eqke.root_squared)
    assert_encloses(query, exp_brackets(query_score, token_shift + position_shift), "query")


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1))
def test_chord_coefficient_encloses_its_formula_and_bounds_the_chord(tmp_path_factory, spec, seed):
    """``coef[k, m, c]`` encloses ``h[m] + (g_k(w) - h[m]) / w`` with ``g_k(w) = max_j ((1-w) ov[m, m, j] +
    w ov[k, m, j])`` and ``w = weight[m, c]``, and so its upper end satisfies the chord inequality
    ``(1 - lam) ov[m, m, j] + lam ov[k, m, j] <= (1 - lam) h[m] + lam coef`` for every j and lam in [0, w]."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    rng = np.random.default_rng(seed)
    weight = rng.choice([1.0, 0.5, 0.1, 1e-3, 0.7310585786300049], size=(vocab, n_ctx))
    coefficient = chord_coefficient(logit_paths(Tables(weights)), weight)
    _, ov = exact_ov(exact_tables(weights))
    w = fractions_of(weight)
    tokens = np.arange(vocab)
    own = ov[tokens, tokens]  # [m, j]
    own_max = own.max(axis=-1)  # h[m]
    assert_encloses(coefficient, exact_chord_coefficient(ov, weight), "chord coefficient")
    upper = fractions_of(coefficient.hi)
    for lam_share in (Fraction(0), Fraction(1, 3), Fraction(1)):
        lam = w * lam_share  # [m, c]
        line = own[None, :, None, :] * (1 - lam)[None, :, :, None] + ov[:, :, None, :] * lam[None, :, :, None]
        chord = (own_max[None, :, None] * (1 - lam)[None] + lam[None] * upper)[..., None]
        assert (chord >= line).all(), "chord inequality"


# ----------------------------------------------------------------------------- case bounds, every sequence
def cubic_case(sequence: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """``(q, m, k, c)`` of a sequence whose non-query non-max tokens are all k (``k = m`` when c = 0); None
    for a mixture of several non-max tokens."""
    q, m = sequence[-1], max(sequence)
    non_max = {token for token in sequence[:-1] if token != m}
    if len(non_max) > 1:
        return None
    c = sum(token != m for token in sequence[:-1])
    return q, m, (non_max.pop() if non_max else m), c


def dense_case_bounds(tables: Tables, order: np.ndarray, weight: np.ndarray | None):
    """``B`` and ``lam``'s bound (the larger upper end of the two configurations) on the grid [V, V, V, n],
    NaN off the case grid (``lam``: also where c = 0) and, for ``B``, where the replay's chord condition
    (:func:`checker.strategies.cubic_ov_chord.chord_condition_holds`) fails (those cases are never counted
    good); and the mask of those refused cases."""
    paths = logit_paths(tables)
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    cases = np.nonzero(valid_cases(vocab, n_ctx))
    coefficient = cubic_coefficient(paths, n_ctx) if weight is None else chord_coefficient(paths, weight)
    bounds, attention = case_bounds(case_attention(tables, order), cases, paths, coefficient)
    copies = tuple(axis[cases[3] > 0] for axis in cases)
    ratio = share_ratio(attention, cases).hi.max(axis=0)
    grid, lam = np.full((vocab, vocab, vocab, n_ctx), np.nan), np.full((vocab, vocab, vocab, n_ctx), np.nan)
    grid[cases], lam[copies] = bounds.hi, ratio
    refused = np.zeros(grid.shape, dtype=bool)
    if weight is not None:
        refused[copies] = ~chord_condition_holds(attention, cases, weight)
    grid[refused] = np.nan
    return grid, lam, refused


def case_setting(tmp_path_factory, spec, seed: int, chord: bool):
    """A model, its exact sequence truths, the dense bounds for a drawn ordering hint (sorting or random)
    and, for the chord, drawn weights; and whether the model is moderate
    (:data:`tests.exact_arithmetic.MODERATE`: then no bound may be NaN but the refused ones)."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables = Tables(weights)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    rng = np.random.default_rng(seed)
    order = ordering_hint(tables.eqkp.lo[:, :-1], rng)
    weight = rng.choice([1.0, 0.5, 0.3, 0.1, 1e-3], size=(vocab, n_ctx)) if chord else None
    bounds, lam, refused = dense_case_bounds(tables, order, weight)
    moderate = max(float(np.abs(part).max()) for part in (tables.eqke.lo, tables.eqke.hi, tables.eqkp.lo,
                                                           tables.eqkp.hi)) <= MODERATE
    valid = valid_cases(vocab, n_ctx)
    compared(bounds[valid & ~refused], moderate)
    compared(lam[valid & (np.arange(n_ctx) > 0)], moderate)
    return sequence_truths(weights), bounds, lam


@settings(max_examples=by_profile(ci=16, long=400))
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1), chord=st.booleans())
@example(spec=TRAINED_EXAMPLE, seed=0, chord=False)
@example(spec=TRAINED_EXAMPLE, seed=1, chord=True)
def test_case_bounds_bound_every_sequence_of_their_case(tmp_path_factory, spec, seed, chord):
    """``B(q, m, k, c) >= max_{y != m} (logit_y - logit_m)`` for every sequence of the case (exact truth,
    every arrangement), for the cubic and the chord coefficient (the cases whose chord condition fails, and
    NaN after an overflow in a model that is not moderate, are left out: they are never counted good); and
    every sequence the good cases cover, mixtures of good tokens included, is correct."""
    truths, bounds, _ = case_setting(tmp_path_factory, spec, seed, chord)
    checked = 0
    for sequence, truth in truths.items():
        case = cubic_case(sequence)
        if case is not None and not np.isnan(bounds[case]):
            assert_upper_bound(np.array(bounds[case]), np.array(truth.worst_difference, dtype=object),
                               f"B{case} for {sequence}")
            checked += 1
    assert checked > 0
    covered = cubic_covered(bounds < 0)
    for sequence in zip(*np.nonzero(covered), strict=True):
        worst = truths[tuple(int(t) for t in sequence)].worst_difference
        assert worst.hi < 0, f"covered {sequence} is not correct: worst difference in [{worst.lo}, {worst.hi}]"


def configuration_shares(truths, exact, q: int, m: int, k: int, c: int) -> list[tuple[Bracket, Bracket, Bracket]]:
    """``(A_max, A_k, A_q)`` of the configurations LO and HI of a case (the max token on the ``L - c`` non-query
    positions of smallest, resp. largest, exact EQKP[q, p]): the shares of two actual sequences, exactly
    bracketed. ``A_max`` counts the non-query max slots only; ``A_q`` is the query's share."""
    slots = len(next(iter(truths))) - 1
    ascending = sorted(range(slots), key=lambda p: exact.eqkp.ratio[q, p])
    result = []
    for on_max in (ascending[: slots - c], ascending[c:]):
        sequence = (*(m if p in on_max else k for p in range(slots)), q)
        truth = truths[sequence]
        others = [p for p in range(slots) if p not in on_max]
        result.append((truth.attention_where(on_max), truth.attention_where(others), truth.attention[slots]))
    return result


def formula_bounds(truths, exact, cases, coefficient: np.ndarray) -> list[Bracket]:
    """``B`` of each case by the module docstring's formulas, from exact tables and exactly bracketed shares."""
    pi, ov = exact_ov(exact)
    eupu, evou = centred(exact.eupu), centred(exact.evou)
    u, h = eupu.max(axis=-1), ov.max(axis=-1)
    result = []
    for q, m, k, c in zip(*cases, strict=True):
        if c == 0 and q == m:
            value = (eupu[m, m] + evou[m, m] + pi[m]).max()
            result.append(Bracket(value, value))
        elif c == 0:
            on_max, _, on_query = configuration_shares(truths, exact, q, m, k, c)[0]  # one arrangement
            result.append(Bracket.maximum(eupu[q, m, j] + pi[m, j] + on_max.times(evou[m, m, j])
                                          + on_query.times(evou[q, m, j]) for j in range(pi.shape[1])))
        else:
            result.append(u[q, m] + Bracket.maximum(
                on_max.times(h[m, m]) + on_other.times(coefficient[k, m, c]) + on_query.times(h[q, m])
                for on_max, on_other, on_query in configuration_shares(truths, exact, q, m, k, c)))
    return result


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1), chord=st.booleans())
@example(spec=TRAINED_EXAMPLE, seed=0, chord=True)
def test_case_bounds_enclose_their_formula(tmp_path_factory, spec, seed, chord):
    """Each enclosure of :func:`case_bounds` contains its case's B by the module docstring's formulas (the
    larger of the two configurations for c >= 1, the finer maximum over y for c = 0), whatever the ordering
    hint: exact tables, the configurations' shares bracketed at 200 bits."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables, exact = Tables(weights), exact_tables(weights)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    rng = np.random.default_rng(seed)
    paths = logit_paths(tables)
    weight = rng.choice([1.0, 0.5, 0.1], size=(vocab, n_ctx))
    ov = exact_ov(exact)[1]
    if chord:
        coefficient, exact_coefficient = chord_coefficient(paths, weight), exact_chord_coefficient(ov, weight)
    else:  # h[k, m]
        coefficient = cubic_coefficient(paths, n_ctx)
        exact_coefficient = np.broadcast_to(ov.max(axis=-1)[:, :, None], (vocab, vocab, n_ctx))
    cases = np.nonzero(valid_cases(vocab, n_ctx))
    bounds, _ = case_bounds(case_attention(tables, random_ordering(rng, vocab, n_ctx - 1)), cases, paths, coefficient)
    expected = np.empty(cases[0].size, dtype=object)
    expected[:] = formula_bounds(sequence_truths(weights), exact, cases, exact_coefficient)
    moderate = max(float(np.abs(part).max()) for part in (tables.eqke.lo, tables.eqkp.lo)) <= MODERATE
    keep = compared(bounds.lo, moderate) & compared(bounds.hi, moderate)
    assert_encloses(bounds[keep], expected[keep], "case bound")


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1))
def test_share_ratio_bounds_lam_of_every_arrangement(tmp_path_factory, spec, seed):
    """For every case with c >= 1, the larger upper end of ``share_ratio`` over the two configurations is at
    least ``lam = K / (P + K)`` of every sequence of the case: K the attention on the non-query slots holding
    k, P that on the slots holding m (the query's included when q = m)."""
    truths, _, lam = case_setting(tmp_path_factory, spec, seed, chord=False)
    for sequence, truth in truths.items():
        case = cubic_case(sequence)
        if case is None or case[3] == 0:
            continue
        _, m, k, _ = case
        other = truth.attention_where([p for p, token in enumerate(sequence[:-1]) if token == k])
        held = truth.attention_where([p for p, token in enumerate(sequence) if token == m])
        largest = other.hi / (held.lo + other.hi)  # lam increases with K and decreases with P
        if not np.isnan(lam[case]):  # NaN only after an overflow (case_setting)
            assert lam[case] >= largest, f"lam bound {lam[case]} below {float(largest)} for {sequence}"


@settings(max_examples=by_profile(ci=16, long=200))
@given(spec=small_models(), seed=st.integers(0, 2**32 - 1))
@example(spec=TRAINED_EXAMPLE, seed=0)
def test_chord_condition_needs_both_configurations(tmp_path_factory, spec, seed):
    """``chord_condition_holds`` is ``lam``'s bound (the larger upper end over the two configurations,
    which :func:`test_share_ratio_bounds_lam_of_every_arrangement` checks against every arrangement) at
    most the weight of the case's max token and copy count; weights between the two configurations'
    upper ends must fail it (checking one configuration only would be unsound)."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables = Tables(weights)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    if n_ctx < 2:
        return
    rng = np.random.default_rng(seed)
    order = ordering_hint(tables.eqkp.lo[:, :-1], rng)
    paths = logit_paths(tables)
    cases = np.nonzero(valid_cases(vocab, n_ctx))
    _, attention = case_bounds(case_attention(tables, order), cases, paths, cubic_coefficient(paths, n_ctx))
    ends = share_ratio(attention, cases).hi  # [2, cases with c >= 1]
    copies = cases[3] > 0
    m, c = cases[1][copies], cases[3][copies]
    straddle = (ends.min(axis=0) < ends.max(axis=0)) & np.isfinite(ends).all(axis=0)
    weight = rng.choice([1.0, 0.5, 0.3, 0.1, 1e-3], size=(vocab, n_ctx))
    if straddle.any():  # put the first straddling case's weight strictly between its two upper ends
        first = int(np.argmax(straddle))
        weight[m[first], c[first]] = (ends[0, first] + ends[1, first]) / 2
    held = chord_condition_holds(attention, cases, weight)
    assert (held == (ends.max(axis=0) <= weight[m, c])).all()
    if straddle.any():
        low, high = sorted(ends[:, first])
        if low < weight[m[first], c[first]] < high:
            assert not held[first]
