"""Subcubic family (SPEC 5.3): 100 strategies = 5 direct-path x 2 attention x 10 attention-error knobs.

Name: ``subcubic/EUPU=<direct-path knob>,attn=<attention knob>,attn-err=<attention-error knob>``. The
mathematics of each step is in :mod:`checker.strategies.subcubic_eqke` (A, B: EQKE decomposition and
its row-diff bounds), :mod:`checker.strategies.subcubic_direct` (E: direct path) and
:mod:`checker.strategies.subcubic_bounds` (C to F: gaps, attention, case bounds, counting).

The family table (the paper's groups of knob combinations) lives with the prover
(:mod:`prover.strategies.subcubic`): no verdict needs it.

Choices where SPEC 5.3 leaves room (all sound; see the step modules for the inequalities):

* the query token is bounded on its own (its score gap ``Ehat[q,m] - Ehat[q,q] +- eps[q]``, its value
  through ``range(EVOU[q,:])`` in W), so the gap g constrains only the non-query non-max tokens;
* W is the prefix maximum of ``range(EVOU[k,:])`` over ``k <= m - g`` of the case (SPEC's per-q option);
* ``global-max-diff-exact`` uses ``max_q range(EUPU[q,:])``; ``abar`` of ``mean-query+diff`` is a hint;
* the replay compares scores through the exact tables' EQKP and the knob's Ehat of EQKE' (softmax is
  invariant under the per-row shift ``EQKE' - EQKE``), so EQKP' is never formed;
* the exact tables are read on demand (:mod:`checker.tables`): a knob pays for the tables it reads
  (EVOU, PVOU and EQKP always; EQKE for ``exact`` and ``max-diff-exact``; the partial products
  ``query_side`` and ``key_side`` for the decompositions, ``query_side`` for the factored direct paths;
  EUPU for the exact direct paths, and for the factored ones only the rows their hint ``exact_rows``
  names).

Trace, in order (:func:`schema`; every claim is untrusted; hints are used without verification, any value
is sound):

* ``orderings``: ``order`` [V, n-1] <i4, as in :mod:`checker.strategies.cubic` (a hint);
* ``eqke-hints``: the decomposition's directions (``u``, ``v`` [V] for the svd knobs; ``q1``, ``q2``,
  ``k1``, ``k2`` [V] and ``uq``, ``uk`` [d] for the subproduct knobs; none otherwise), <f8;
* ``direct-hints``: ``d0`` [d] <f8 for ``svd-query+max-diff``; ``exact_rows`` [V] |b1 for the factored
  direct paths (the all-max cases bounded through an exact EUPU row); none otherwise;
* ``eqke-errors``: ``eps`` [V] <f4, claimed upper bounds of Err's row ranges;
* ``gaps``: ``gap`` [V, V, n] <i4 (a hint) and ``good`` [V, V, n] |b1 over ``(q, m, c)``;
* ``attention``: ``alpha_lo``, ``alpha_hi`` <f4, claimed lower and upper bounds of the attention on the max
  token for the good cases other than the all-max ones, in C order;
* ``average-attention`` (``mean-query+diff`` only): ``abar`` [V (m), n (c)] <f8 (a hint);
* ``bounds``: ``bound`` <f4, the claimed negative upper bounds ``B`` of the good cases, in C order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from checker.kernel.compare import less
from checker.replay import InvalidCertificate, accept_lower, accept_upper, first_index
from checker.schema import ANY, CASES, HINT, LOWER, UPPER, ArraySchema, StepSchema, Trace, TraceSchema
from checker.strategies import ReplayResult, Strategy, register
from checker.strategies.cubic import ORDERINGS, read_orderings
from checker.strategies.cubic_bounds import CASE_WORK
from checker.strategies.subcubic_bounds import (
    all_max_bounds,
    attention_enclosures,
    attention_setup,
    case_bound_enclosures,
    covered_count,
    gap_in_range,
    logit_terms,
    mean_query,
    non_max_slots,
    valid_cases,
)
from checker.strategies.subcubic_direct import DIRECT_PATH_KNOBS, EXACT_DIRECT_PATH, direct_hint_schema, direct_path
from checker.strategies.subcubic_eqke import ATTENTION_ERROR_KNOBS, eqke_decomposition, hint_schema
from checker.tables import Tables

PREFIX = "subcubic"
CASE_BLOCK = 1 << 19
"""Most (q, m, c) grid cells replayed at once (the whole grid up to V = 256 at n = 8)."""
ATTENTION_KNOBS = ("drop-average-query", "mean-query+diff")
EQKE_HINT_STEP, DIRECT_HINT_STEP, EPS_STEP = "eqke-hints", "direct-hints", "eqke-errors"
GAP_STEP, ATTENTION_STEP, AVERAGE_STEP, BOUND_STEP = "gaps", "attention", "average-attention", "bounds"


def strategy_name(direct: str, attention: str, attention_error: str) -> str:
    return f"{PREFIX}/EUPU={direct},attn={attention},attn-err={attention_error}"


def parse_name(name: str) -> tuple[str, str, str]:
    """``(direct, attention, attention_error)`` knobs of a registered name (ValueError otherwise)."""
    prefix, _, rest = name.partition("/")
    fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    knobs = (fields.get("EUPU", ""), fields.get("attn", ""), fields.get("attn-err", ""))
    if prefix != PREFIX or strategy_name(*knobs) != name or knobs[0] not in DIRECT_PATH_KNOBS:
        raise ValueError(f"not a subcubic strategy name: {name!r}")
    if knobs[1] not in ATTENTION_KNOBS or knobs[2] not in ATTENTION_ERROR_KNOBS:
        raise ValueError(f"not a subcubic strategy name: {name!r}")
    return knobs


def schema(direct: str, attention: str, attention_error: str) -> TraceSchema:
    """The trace of one knob combination (module docstring)."""
    grid = ("V", "V", "n")
    steps = [
        ORDERINGS,
        StepSchema(EQKE_HINT_STEP, hint_schema(attention_error)),
        StepSchema(DIRECT_HINT_STEP, direct_hint_schema(direct)),
        StepSchema(EPS_STEP, {"eps": ArraySchema(("V",), "<f4", UPPER)}),
        StepSchema(GAP_STEP, {"gap": ArraySchema(grid, "<i4", HINT), "good": ArraySchema(grid, "|b1", CASES)}),
        StepSchema(ATTENTION_STEP, {
            "alpha_lo": ArraySchema((ANY,), "<f4", LOWER), "alpha_hi": ArraySchema((ANY,), "<f4", UPPER),
        }),
    ]
    if attention == "mean-query+diff":
        steps.append(StepSchema(AVERAGE_STEP, {"abar": ArraySchema(("V", "n"), "<f8", HINT)}))
    steps.append(StepSchema(BOUND_STEP, {"bound": ArraySchema((ANY,), "<f4", UPPER)}))
    return TraceSchema(tuple(steps))


def replay_subcubic(direct: str, attention: str, attention_error: str, trace: Trace, tables: Tables) -> ReplayResult:
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    order = read_orderings(trace)
    if vocab < 2 or n_ctx < 2:
        raise InvalidCertificate(EQKE_HINT_STEP, None, None, "the subcubic strategies need d_vocab, n_ctx >= 2")
    claimed_eps = trace[EPS_STEP]["eps"]
    gap, good = trace[GAP_STEP]["gap"].astype(np.int64), trace[GAP_STEP]["good"]
    alphas = trace[ATTENTION_STEP]
    average = trace[AVERAGE_STEP]["abar"] if attention == "mean-query+diff" else None
    claimed_bound = trace[BOUND_STEP]["bound"]

    cases = good_cases(good, gap)
    q, m, c, _ = cases
    all_max = (q == m) & (c == 0)
    _check_sizes(alphas["alpha_lo"].size, alphas["alpha_hi"].size, claimed_bound.size, all_max)
    _check_negative(claimed_bound, cases)

    ehat, eps_enclosure = eqke_decomposition(attention_error, tables, trace[EQKE_HINT_STEP])
    eps = accept_upper(claimed_eps, eps_enclosure, step=EPS_STEP, array="eps")
    mu, slack = direct_path(direct, tables, trace[DIRECT_HINT_STEP])
    exact_rows = None if direct in EXACT_DIRECT_PATH else trace[DIRECT_HINT_STEP]["exact_rows"]
    terms = logit_terms(tables, mu)
    setup = attention_setup(tables, ehat, eps, order)
    mean = None if average is None else mean_query(terms, average)
    attended_before = np.concatenate([[0], np.cumsum(~all_max)])
    for part in _case_chunks(q, vocab, n_ctx):
        chunk = tuple(axis[part] for axis in cases)
        chunk_all_max = all_max[part]
        attended = tuple(axis[~chunk_all_max] for axis in chunk)
        claims = slice(int(attended_before[part.start]), int(attended_before[part.stop]))
        lower, upper = attention_enclosures(setup, attended)
        alpha_lo = accept_lower(alphas["alpha_lo"][claims], lower, step=ATTENTION_STEP, array="alpha_lo",
                                cases=attended[:3])
        alpha_hi = accept_upper(alphas["alpha_hi"][claims], upper, step=ATTENTION_STEP, array="alpha_hi",
                                cases=attended[:3])
        bounds = case_bound_enclosures(terms, slack, attended, alpha_lo, alpha_hi, mean)
        accept_upper(claimed_bound[part][~chunk_all_max], bounds, step=BOUND_STEP, array="bound",
                     cases=attended[:3])
        maxima = chunk[1][chunk_all_max]
        claimed_all_max = claimed_bound[part][chunk_all_max]
        all_max_bound = all_max_bounds(tables, terms, slack, maxima, exact_rows)
        accept_upper(claimed_all_max, all_max_bound, step=BOUND_STEP, array="bound",
                     cases=tuple(axis[chunk_all_max] for axis in chunk[:3]))
    notes = {"good_cases": int(q.size), "cases": int(np.count_nonzero(valid_cases(vocab, n_ctx)))}
    return ReplayResult(certified_count=covered_count(good, gap), notes=notes)


def _case_chunks(q: np.ndarray, vocab: int, n_ctx: int) -> Iterator[slice]:
    """Slices of the claimed cases (sorted by q, C order) covering whole query rows of at most
    CASE_BLOCK grid cells each, so the replay's temporaries stay bounded whatever V and n are."""
    rows = max(1, CASE_BLOCK // (vocab * n_ctx))
    edges = np.searchsorted(q, np.arange(0, vocab + rows, rows))
    for start, stop in itertools.pairwise(edges):
        if stop > start:
            yield slice(int(start), int(stop))


def good_cases(good: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(q, m, c, g)`` of the claimed-good cases; INVALID if one is outside the case grid or its gap is
    out of range."""
    vocab, _, n_ctx = good.shape
    outside = good & ~valid_cases(vocab, n_ctx)
    if outside.any():
        raise InvalidCertificate(GAP_STEP, "good", first_index(outside), "claims a case outside the case grid")
    q, m, c = np.nonzero(good)
    g = gap[q, m, c]
    bad = ~gap_in_range(m, g, non_max_slots(q, m, c), vocab)
    if bad.any():
        index = int(np.argmax(bad))
        raise InvalidCertificate(GAP_STEP, "gap", (int(q[index]), int(m[index]), int(c[index])), "gap out of range")
    return q, m, c, g


def _check_sizes(lo_size: int, hi_size: int, bound_size: int, all_max: np.ndarray) -> None:
    attended = int(np.count_nonzero(~all_max))
    if lo_size != attended or hi_size != attended:
        raise InvalidCertificate(ATTENTION_STEP, None, None, f"expected {attended} attention bounds per end")
    if bound_size != all_max.size:
        raise InvalidCertificate(BOUND_STEP, "bound", None, f"{bound_size} bounds for {all_max.size} good cases")


def _check_negative(claimed: np.ndarray, cases: tuple[np.ndarray, ...]) -> None:
    nonnegative = ~less(claimed, 0.0)
    if nonnegative.any():
        index = int(np.argmax(nonnegative))
        where = tuple(int(axis[index]) for axis in cases[:3])
        reason = f"claimed-good case has bound {float(claimed[index])!r} >= 0"
        raise InvalidCertificate(BOUND_STEP, "bound", where, reason)


def subcubic_work(d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> int:
    """Estimated replay work: CASE_WORK per case (q, m, c) and per entry of the V x V and V x d products."""
    return CASE_WORK * (d_vocab * d_vocab * (n_ctx + d_model + d_head) + d_vocab * d_model * d_head)


def _replay(knobs: tuple[str, str, str]):
    def replay(trace: Trace, tables: Tables) -> ReplayResult:
        return replay_subcubic(*knobs, trace, tables)

    return replay


KNOBS = [
    (direct, attention, error)
    for direct in DIRECT_PATH_KNOBS
    for attention in ATTENTION_KNOBS
    for error in ATTENTION_ERROR_KNOBS
]
NAMES = [strategy_name(*knobs) for knobs in KNOBS]
for _knobs in KNOBS:
    register(Strategy(strategy_name(*_knobs), schema(*_knobs), _replay(_knobs), subcubic_work))
