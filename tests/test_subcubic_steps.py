"""The subcubic steps C to E (:mod:`checker.strategies.subcubic_direct`, :mod:`checker.strategies.subcubic_bounds`)
against exact references: the direct path and the logit terms in rationals; the attention and the case
bounds against every sequence of each case of small models, enumerated, with the attention and logits
bracketed at 200 bits (:mod:`tests.exact_arithmetic`). Each test states the docstring inequality it checks.

A sequence x (query q = x_{n-1}, max m) belongs to the case ``(q, m, c, g)`` when ``c`` counts its non-max
tokens (the query's included when q != m) and every non-query non-max token is at most ``m - g``; the
claims a step relies on (the eps of step B, the attention ends of step D) are the checker's own upper
and lower endpoints, the tightest claims a replay would accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from certificates.model_file import ModelWeights
from checker.kernel import Interval
from checker.strategies.subcubic_bounds import (
    LogitTerms,
    all_max_bounds,
    attention_enclosures,
    attention_setup,
    case_bound_enclosures,
    exact_all_max,
    factored_all_max,
    gap_in_range,
    logit_terms,
    non_max_slots,
    non_max_weight,
    valid_cases,
)
from checker.strategies.subcubic_bounds import (
    mean_query as subcubic_mean_query,
)
from checker.strategies.subcubic_direct import DIRECT_PATH_KNOBS, EXACT_DIRECT_PATH, FACTORED_KNOBS, direct_path
from checker.strategies.subcubic_eqke import ATTENTION_ERROR_KNOBS, eqke_decomposition
from checker.tables import Tables
from prover.subcubic_search import direct_hints, eqke_hints
from tests.exact_arithmetic import (
    MODERATE,
    OverRoot,
    assert_encloses,
    assert_lower_bound,
    assert_upper_bound,
    centred,
    compared,
    exact_tables,
    exp_brackets,
    fractions_of,
    point_in,
    positional_worst,
    sequence_truths,
)
from tests.generators import TRAINED_EXAMPLE, ModelSpec, build_model, ordering_hint, random_ordering, small_models
from tests.trust import by_profile

EXAMPLES = by_profile(ci=10, long=300)
seeds = st.integers(0, 2**32 - 1)


def on_max(table: np.ndarray) -> np.ndarray:
    """``T[m, y_j] - T[m, m]`` [V (m), V-1 (j)]: each row centred on its own token (exact)."""
    tokens = np.arange(table.shape[0])
    return centred(table)[tokens, tokens]


def real_mu(knob: str, exact, hints: dict[str, np.ndarray]) -> np.ndarray:
    """The direct path's ``mu`` (:mod:`checker.strategies.subcubic_direct`): 0 for the exact knobs, else
    ``d0 W_U + b_U + b_O W_U`` with ``d0`` the exact column mean of E~q, the hint, or 0."""
    w, vocab = exact.weights, exact.eupu.shape[1]
    if knob in EXACT_DIRECT_PATH:
        return fractions_of(np.zeros(vocab))
    if knob == "mean-query+max-diff":
        d0 = exact.query_side.sum(axis=0) / vocab
    else:
        d0 = fractions_of(hints["d0"] if knob == "svd-query+max-diff" else np.zeros(w["W_U"].shape[0]))
    return d0 @ w["W_U"] + w["b_U"] + w["b_O"] @ w["W_U"]


def direct_path_hints(weights, knob: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The prover's hints (SPEC 6) or an arbitrary ``d0`` half the time: any value is sound."""
    hints = direct_hints(weights, knob, torch.device("cpu"))
    if "d0" in hints and rng.random() < 0.5:
        hints["d0"] = rng.standard_normal(weights.d_model) * 3
    return hints


@pytest.mark.parametrize("knob", DIRECT_PATH_KNOBS)
@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
def test_direct_path_bounds_every_direct_logit_difference(tmp_path_factory, knob, spec, seed):
    """``mu`` encloses the real ``mu`` of the module docstring and, for every q, y, m,
    ``EUPU[q, y] - EUPU[q, m] <= (mu_y - mu_m) + dU[q]`` with ``dU[q] = slack.hi``."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    exact = exact_tables(weights)
    hints = direct_path_hints(weights, knob, np.random.default_rng(seed))
    mu, slack = direct_path(knob, Tables(weights), hints)
    truth = real_mu(knob, exact, hints)
    assert_encloses(mu, truth, f"{knob} mu")
    excess = exact.eupu[:, :, None] - exact.eupu[:, None, :] - (truth[:, None] - truth[None, :])[None]
    assert_upper_bound(slack.hi, excess.max(axis=(1, 2)), f"{knob} dU")


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
def test_logit_terms_enclose_their_definitions(tmp_path_factory, spec, seed):
    """For every real ``mu`` in the given enclosure: ``e = E_y``, ``pi``, ``a = (mu_y - mu_m) + pi``,
    ``r = max e``, ``e_min = min e``, ``a_max = max a``, ``ranges = range(EVOU[k, :])`` and
    ``ranges_prefix[t] = max_{k <= t} ranges[k]`` are enclosed."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    exact = exact_tables(weights)
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal(weights.d_vocab) * 4
    mu = Interval(centre, centre + rng.choice([0.0, 1e-9, 0.5], size=centre.size))
    terms = logit_terms(Tables(weights), mu)
    point = point_in(mu.lo, mu.hi, rng)
    e, pi = on_max(exact.evou), positional_worst(exact)
    a = on_max(np.broadcast_to(point, (point.size, point.size))) + pi
    ranges = exact.evou.max(axis=1) - exact.evou.min(axis=1)
    prefix = np.array([max(ranges[: t + 1]) for t in range(ranges.size)], dtype=object)
    for name, value in (("e", e), ("pi", pi), ("a", a), ("r", e.max(axis=1)), ("e_min", e.min(axis=1)),
                        ("a_max", a.max(axis=1)), ("ranges", ranges), ("ranges_prefix", prefix)):
        assert_encloses(getattr(terms, name), value, name)


# ----------------------------------------------------------------------------- cases and their sequences
def attended_cases(vocab: int, n_ctx: int) -> tuple[np.ndarray, ...]:
    """``(q, m, c, g)`` of every valid case with a usable gap, the all-max cases left out."""
    grid = np.meshgrid(np.arange(vocab), np.arange(vocab), np.arange(n_ctx), np.arange(1, vocab), indexing="ij")
    q, m, c, g = (axis.ravel() for axis in grid)
    keep = valid_cases(vocab, n_ctx)[q, m, c] & gap_in_range(m, g, non_max_slots(q, m, c), vocab)
    keep &= ~((q == m) & (c == 0))
    return tuple(axis[keep] for axis in (q, m, c, g))


def members(cases: tuple[np.ndarray, ...], sequences, vocab: int) -> list[tuple[int, tuple[int, ...]]]:
    """``(case index, sequence)`` for every sequence of every case (module docstring)."""
    index = {tuple(int(axis[i]) for axis in cases): i for i in range(cases[0].size)}
    pairs = []
    for sequence in sequences:
        q, m = sequence[-1], max(sequence)
        non_max = [token for token in sequence[:-1] if token != m]
        c = len(non_max) + (q != m)
        for g in range(1, vocab):
            if all(token <= m - g for token in non_max) and (q, m, c, g) in index:
                pairs.append((index[q, m, c, g], sequence))
    return pairs


@dataclass(frozen=True)
class AttentionSetting:
    """A model, its sequence truths and attended cases, and the attention enclosures of those cases for a
    drawn attention-error knob (the prover's hints) and ordering hint; ``moderate``: no enclosure may be
    NaN (:data:`tests.exact_arithmetic.MODERATE`)."""

    weights: ModelWeights
    tables: Tables
    truths: dict
    cases: tuple[np.ndarray, ...]
    lower: Interval
    upper: Interval
    moderate: bool
    rng: np.random.Generator


def attention_setting(tmp_path_factory, spec: ModelSpec, seed: int) -> AttentionSetting:
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables = Tables(weights)
    rng = np.random.default_rng(seed)
    knob = ATTENTION_ERROR_KNOBS[rng.integers(len(ATTENTION_ERROR_KNOBS))]
    ehat, eps = eqke_decomposition(knob, tables, eqke_hints(weights, knob, torch.device("cpu")))
    cases = attended_cases(weights.d_vocab, weights.n_ctx)
    setup = attention_setup(tables, ehat, eps.hi, ordering_hint(tables.eqkp.lo[:, :-1], rng))
    lower, upper = attention_enclosures(setup, cases)
    magnitudes = (tables.eqkp.lo, tables.eqkp.hi, ehat.lo, ehat.hi, eps.hi)
    moderate = max(float(np.abs(part).max()) for part in magnitudes) <= MODERATE
    return AttentionSetting(weights, tables, sequence_truths(weights), cases, lower, upper, moderate, rng)


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
@example(spec=TRAINED_EXAMPLE, seed=0)
def test_attention_enclosures_bound_the_attention_on_the_max_of_every_sequence(tmp_path_factory, spec, seed):
    """``lower.lo <= alpha <= upper.hi`` for the attention alpha on the max token (the query's share
    included when q = m) of every sequence of every attended case, given the accepted eps of any knob (NaN,
    the kernel's answer to an overflow, only where the model is not moderate)."""
    setting = attention_setting(tmp_path_factory, spec, seed)
    pairs = members(setting.cases, setting.truths, setting.weights.d_vocab)
    assert pairs
    lower_compared = compared(setting.lower.lo, setting.moderate)
    upper_compared = compared(setting.upper.hi, setting.moderate)
    for case, sequence in pairs:
        alpha = np.array(setting.truths[sequence].attention_on_max, dtype=object)
        where = f"case {tuple(int(axis[case]) for axis in setting.cases)}, sequence {sequence}"
        if lower_compared[case]:
            assert_lower_bound(setting.lower.lo[case], alpha, where)
        if upper_compared[case]:
            assert_upper_bound(setting.upper.hi[case], alpha, where)


def extreme_attention(exact, ehat: np.ndarray, eps: np.ndarray, case) -> tuple[Fraction, Fraction]:
    """The smallest and largest attention on the max token that the inputs of step D allow in one case:
    with every gap ``D_k = EQKE[q, m] - EQKE[q, k]`` (k <= m - g) anywhere in
    ``Ehat[q, m] - [max, min]_{k <= m-g} Ehat[q, k] -+ eps[q]`` (real Err of row range eps[q] reach both
    ends), ``D_q`` in ``Ehat[q, m] - Ehat[q, q] +- eps[q]``, and the max token on the non-query positions of
    smallest (for the smallest attention) or largest positional weight ``x_p = exp(EQKP[q, p])``: the
    attention of actual sequences of models with these Ehat and eps, so every sound enclosure holds them.
    Returned as the lower end of the smallest's bracket and the upper end of the largest's (safe side)."""
    q, m, c, g = (int(value) for value in case)
    slots = exact.eqkp.ratio.shape[1] - 1
    j = c - (q != m)
    weights = exp_brackets(exact.eqkp[q], np.array(Fraction(0), dtype=object))
    ascending = sorted(range(slots), key=lambda p: exact.eqkp.ratio[q, p])
    row, spread = fractions_of(ehat[q]), Fraction(eps[q])
    gaps = (row[m] - max(row[: m - g + 1]) - spread, row[m] - min(row[: m - g + 1]) + spread) if j else (0, 0)
    query_gaps = (row[m] - row[q] - spread, row[m] - row[q] + spread) if q != m else (0, 0)

    def attention(on_max: list[int], gap, query_gap, end: str) -> Fraction:
        """The attention's bracket end ``end`` ("lo" or "hi") for max slots ``on_max`` and the given gaps."""
        pick = (lambda b: b.lo) if end == "lo" else (lambda b: b.hi)
        other = (lambda b: b.hi) if end == "lo" else (lambda b: b.lo)
        factor = exp_brackets(OverRoot(np.array(-gap, dtype=object), Fraction(1)), np.array(0, dtype=object))[()]
        query = exp_brackets(exact.eqkp[q, slots:], np.array(query_gap, dtype=object))[0]
        held = sum((pick(weights[p]) for p in on_max), Fraction(0))
        rest = sum((other(weights[p]) for p in range(slots) if p not in on_max), Fraction(0)) * other(factor)
        if q == m:  # the query's share counts: alpha = (X + w) / (X + w + F Y)
            held += pick(query)
            return held / (held + rest)
        return held / (held + rest + other(query))

    return (attention(ascending[: slots - j], gaps[0], query_gaps[0], "lo"),
            attention(ascending[j:], gaps[1], query_gaps[1], "hi"))


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
@example(spec=TRAINED_EXAMPLE, seed=0)
def test_attention_enclosures_hold_the_extremes_their_inputs_allow(tmp_path_factory, spec, seed):
    """``lower.lo`` and ``upper.hi`` bound the smallest and largest attention on the max token consistent with
    a point Ehat, eps and the tables' EQKP (:func:`extreme_attention`), for every attended case and
    any ordering hint: nothing about the real Err but its row ranges may be assumed."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables, exact = Tables(weights), exact_tables(weights)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    rng = np.random.default_rng(seed)
    ehat = rng.standard_normal((vocab, vocab)) * rng.choice([0.3, 3.0])
    eps = rng.random(vocab) * rng.choice([0.0, 0.1, 2.0])
    order = random_ordering(rng, vocab, n_ctx - 1)
    cases = attended_cases(vocab, n_ctx)
    lower, upper = attention_enclosures(attention_setup(tables, Interval.exact(ehat), eps, order), cases)
    moderate = float(np.abs(tables.eqkp.lo).max()) <= MODERATE
    lower_compared, upper_compared = compared(lower.lo, moderate), compared(upper.hi, moderate)
    for index, case in enumerate(zip(*cases, strict=True)):
        smallest, largest = extreme_attention(exact, ehat, eps, case)
        if lower_compared[index]:
            assert lower.lo[index] <= smallest, f"case {case}: lower end {lower.lo[index]} above {float(smallest)}"
        if upper_compared[index]:
            assert upper.hi[index] >= largest, f"case {case}: upper end {upper.hi[index]} below {float(largest)}"


@settings(max_examples=by_profile(ci=16, long=400))
@given(spec=small_models(), seed=seeds, direct=st.sampled_from(DIRECT_PATH_KNOBS), mean_query=st.booleans())
@example(spec=TRAINED_EXAMPLE, seed=0, direct="max-diff-exact", mean_query=True)
@example(spec=TRAINED_EXAMPLE, seed=1, direct="mean-query+max-diff", mean_query=False)
def test_case_bounds_bound_every_sequence_of_their_case(tmp_path_factory, spec, seed, direct, mean_query):
    """``B(q, m, c) >= max_{y != m} (logit_y - logit_m)`` for every sequence of every attended case, for both
    attention knobs (``mean-query+diff`` with a drawn abar, any real being sound) and every direct path,
    given the accepted attention ends (NaN, after an overflow, only where the model is not moderate)."""
    setting = attention_setting(tmp_path_factory, spec, seed)
    weights, tables, cases, rng = setting.weights, setting.tables, setting.cases, setting.rng
    mu, slack = direct_path(direct, tables, direct_path_hints(weights, direct, rng))
    terms = logit_terms(tables, mu)
    average = rng.uniform(-0.5, 1.5, size=(weights.d_vocab, weights.n_ctx)) if mean_query else None
    levels = None if average is None else subcubic_mean_query(terms, average)
    bounds = case_bound_enclosures(terms, slack, cases, setting.lower.lo, setting.upper.hi, levels)
    bound_compared = compared(bounds.hi, setting.moderate)
    for case, sequence in members(cases, setting.truths, weights.d_vocab):
        if bound_compared[case]:
            worst = np.array(setting.truths[sequence].worst_difference, dtype=object)
            assert_upper_bound(bounds.hi[case], worst, f"case {tuple(int(a[case]) for a in cases)}, {sequence}")


def point_terms(rng: np.random.Generator, vocab: int) -> tuple[LogitTerms, dict[str, np.ndarray]]:
    """LogitTerms of random point values, consistent with their definitions (``r = max e``, ...), and the
    same values as exact rationals."""
    e, a = rng.standard_normal((vocab, vocab - 1)) * 3, rng.standard_normal((vocab, vocab - 1)) * 3
    ranges = rng.random(vocab) * 4
    values = {"e": e, "pi": np.zeros_like(e), "a": a, "r": e.max(axis=1), "e_min": e.min(axis=1),
              "a_max": a.max(axis=1), "ranges": ranges, "ranges_prefix": np.maximum.accumulate(ranges)}
    return LogitTerms(**{name: Interval.exact(value) for name, value in values.items()}), {
        name: fractions_of(value) for name, value in values.items()}


def exact_weight(terms: dict[str, np.ndarray], q: int, m: int, c: int, g: int) -> Fraction:
    """``W`` (module docstring): the prefix maximum of the value ranges up to ``m - g`` when a non-query slot
    is non-max, joined with the query's range when q != m."""
    ranges = [terms["ranges_prefix"][m - g]] if non_max_slots(q, m, c) > 0 else []
    if q != m:
        ranges.append(terms["ranges"][q])
    return max(ranges)


@settings(max_examples=by_profile(ci=40, long=1000))
@given(vocab=st.integers(2, 5), n_ctx=st.integers(2, 4), seed=seeds, mean_query=st.booleans())
def test_case_bound_enclosures_enclose_their_formula_and_bound_every_alpha(vocab, n_ctx, seed, mean_query):
    """For point logit terms, slack and attention ends: the enclosure contains ``B`` by the module docstring's
    formula of each attention knob (with the FIX's slope ``min E`` below abar), and ``B >= max_y (A_y +
    alpha E_y) + (1 - alpha) W + dU[q]`` for every alpha between the ends (tried at the ends and between)."""
    rng = np.random.default_rng(seed)
    terms, exact = point_terms(rng, vocab)
    cases = attended_cases(vocab, n_ctx)
    slack = rng.random(vocab) * 2
    ends = np.sort(rng.random((2, cases[0].size)) * rng.choice([1.0, 0.01]), axis=0)
    ends[1] = np.where(rng.random(cases[0].size) < 0.2, ends[0], ends[1])
    average = rng.uniform(-0.5, 1.5, size=(vocab, n_ctx)) if mean_query else None
    levels = None if average is None else subcubic_mean_query(terms, average)
    bounds = case_bound_enclosures(terms, Interval.exact(slack), cases, ends[0], ends[1], levels)
    formula = np.empty(cases[0].size, dtype=object)
    for index, (q, m, c, g) in enumerate(zip(*cases, strict=True)):
        weight, slack_q = exact_weight(exact, q, m, c, g), Fraction(slack[q])
        alphas = [Fraction(end) for end in ends[:, index]]
        if average is None:
            formula[index] = exact["a_max"][m] + slack_q + max(exact["r"][m] * alpha + weight * (1 - alpha)
                                                          for alpha in alphas)
        else:
            level = Fraction(average[m, c])
            best = (exact["a"][m] + exact["e"][m] * level).max()
            formula[index] = best + weight * (1 - level) + slack_q + max(
                (alpha - level) * ((exact["r"][m] if alpha >= level else exact["e_min"][m]) - weight)
                for alpha in alphas)
        upper = Fraction(float(bounds.hi[index]))
        for t in (Fraction(0), Fraction(1), Fraction(rng.random())):
            alpha = alphas[0] + t * (alphas[1] - alphas[0])
            assert upper >= (exact["a"][m] + alpha * exact["e"][m]).max() + (1 - alpha) * weight + slack_q
    assert_encloses(bounds, formula, "case bound formula")


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
def test_non_max_weight_bounds_the_value_rows_of_the_tokens_present(tmp_path_factory, spec, seed):
    """``W >= EVOU[k, y] - EVOU[k, m]`` for every y and every non-max token k a sequence of the case may hold:
    each ``k <= m - g`` when a non-query slot is non-max, and the query ``q`` when q != m."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    exact = exact_tables(weights)
    cases = attended_cases(weights.d_vocab, weights.n_ctx)
    weight = non_max_weight(logit_terms(Tables(weights), Interval.exact(np.zeros(weights.d_vocab))), cases)
    for index, (q, m, c, g) in enumerate(zip(*cases, strict=True)):
        present = list(range(m - g + 1)) if non_max_slots(q, m, c) > 0 else []
        present += [q] if q != m else []
        needed = max(max(exact.evou[k] - exact.evou[k, m]) for k in present)
        assert_upper_bound(weight.hi[index], np.array(needed, dtype=object), f"W of case {(q, m, c, g)}")


# ----------------------------------------------------------------------------- the all-max cases
def all_max_truth(truths, vocab: int, n_ctx: int) -> np.ndarray:
    """``max_{y != m} (logit_y - logit_m)`` of the sequence (m, ..., m), per m (brackets)."""
    return np.array([truths[(m,) * n_ctx].worst_difference for m in range(vocab)], dtype=object)


@pytest.mark.parametrize("direct", DIRECT_PATH_KNOBS)
@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
def test_all_max_bounds_bound_the_all_max_sequence_for_any_exact_rows(tmp_path_factory, direct, spec, seed):
    """``B(m, m, 0) >= max_{y != m} (logit_y - logit_m)`` of the sequence (m, ..., m) for every m, with the
    exact direct path (no hint) or any ``exact_rows`` hint of a factored one; where the hint names m the
    bound is :func:`exact_all_max`'s, elsewhere :func:`factored_all_max`'s."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    tables, vocab = Tables(weights), weights.d_vocab
    rng = np.random.default_rng(seed)
    mu, slack = direct_path(direct, tables, direct_path_hints(weights, direct, rng))
    terms = logit_terms(tables, mu)
    exact_rows = rng.random(vocab) < 0.5 if direct in FACTORED_KNOBS else None
    maxima = np.arange(vocab)
    bounds = all_max_bounds(tables, terms, slack, maxima, exact_rows)
    assert_upper_bound(bounds.hi, all_max_truth(sequence_truths(weights), vocab, weights.n_ctx), direct)
    if exact_rows is not None:
        for rows, expected in ((exact_rows, exact_all_max(tables, terms, maxima[exact_rows])),
                               (~exact_rows, factored_all_max(terms, slack, maxima[~exact_rows]))):
            assert (bounds.lo[rows] == expected.lo).all() and (bounds.hi[rows] == expected.hi).all()


@settings(max_examples=EXAMPLES)
@given(spec=small_models(), seed=seeds)
def test_all_max_formulas_enclose_their_definitions(tmp_path_factory, spec, seed):
    """:func:`exact_all_max` encloses ``max_{y != m} (EUPU[m, y] - EUPU[m, m] + E_y + pi[y])`` and
    :func:`factored_all_max` encloses ``max_{y != m} (A_y + E_y) + dU[m]`` for point ``mu`` and ``dU``."""
    weights = build_model(spec, tmp_path_factory.mktemp("m")).weights
    exact, tables, vocab = exact_tables(weights), Tables(weights), weights.d_vocab
    rng = np.random.default_rng(seed)
    mu, slack = rng.standard_normal(vocab) * 3, rng.random(vocab) * 5
    terms = logit_terms(tables, Interval.exact(mu))
    maxima = rng.permutation(vocab)[: rng.integers(1, vocab + 1)]
    e, pi = on_max(exact.evou), positional_worst(exact)
    direct = (on_max(exact.eupu) + e + pi).max(axis=1)
    assert_encloses(exact_all_max(tables, terms, maxima), direct[maxima], "exact all-max")
    a = on_max(np.broadcast_to(fractions_of(mu), (vocab, vocab))) + pi
    factored = (a + e).max(axis=1) + fractions_of(slack)
    assert_encloses(factored_all_max(terms, Interval.exact(slack), maxima), factored[maxima], "factored all-max")
