"""Subcubic family (SPEC 5.3): 100 strategies = 5 direct-path x 2 attention x 10 attention-error knobs.

Name: ``subcubic/EUPU=<direct-path knob>,attn=<attention knob>,attn-err=<attention-error knob>``. The
mathematics of each step is in :mod:`checker.strategies.subcubic_eqke` (A, B: EQKE decomposition and
its row-diff bounds), :mod:`checker.strategies.subcubic_direct` (E: direct path) and
:mod:`checker.strategies.subcubic_bounds` (C to F: gaps, attention, case bounds, counting).

Families (the paper's table groups; "exact direct path" = the knobs that use the whole EUPU table):

=========================================================  ===============================================  ======
family                                                     attn-err knobs / EUPU knobs                      count
=========================================================  ===============================================  ======
subcubic                                                   exact, max-diff-exact / max-diff-exact,              8
                                                           global-max-diff-exact
attention-d_vocab d_model^2                                svd, max-diff, mean+max-diff, max-diff-subproduct,  20
                                                           mean+max-diff-subproduct / the 2 exact EUPU knobs
attention-quadratic                                        the 3 ``*-recursive`` knobs / the 2 exact EUPU      12
direct-quadratic                                           exact, max-diff-exact / mean-query+max-diff,       12
                                                           svd-query+max-diff, max-diff
attention-d_vocab d_model^2 + direct-quadratic             the 5 d_vocab d_model^2 knobs / the 3 quadratic    30
attention-quadratic + direct-quadratic                     the 3 recursive knobs / the 3 quadratic            18
=========================================================  ===============================================  ======

(each with both attention knobs, ``drop-average-query`` and ``mean-query+diff``).

Choices where SPEC 5.3 leaves room (all sound; see the step modules for the inequalities):

* the query token is bounded on its own (its score gap ``Ehat[q,m] - Ehat[q,q] +- eps[q]``, its value
  through ``range(EVOU[q,:])`` in W), so the gap g constrains only the non-query non-max tokens;
* W is the prefix maximum of ``range(EVOU[k,:])`` over ``k <= m - g`` of the case (SPEC's per-q option);
* ``global-max-diff-exact`` uses ``max_q range(EUPU[q,:])``; ``abar`` of ``mean-query+diff`` is a hint;
* the replay compares scores through the exact tables' EQKP and the knob's Ehat of EQKE' (softmax is
  invariant under the per-row shift ``EQKE' - EQKE``), so EQKP' is never formed;
* the checker computes the exact tables for every strategy (:func:`checker.verify.verify`), so every
  proof's FLOPs include them (about 1.4e6 at V = 64, d = 32); the cheaper knobs save only in the replay.

Trace, in order (every claim is untrusted; hints are used without verification, any value is sound):

* ``orderings``: ``order`` [V, n-1] <i4, as in :mod:`checker.strategies.cubic` (a hint);
* ``eqke-hints``: the decomposition's directions (``u``, ``v`` [V] for the svd knobs; ``q1``, ``q2``,
  ``k1``, ``k2`` [V] and ``uq``, ``uk`` [d] for the subproduct knobs; none otherwise), <f8;
* ``direct-hints``: ``d0`` [d] <f8 for ``svd-query+max-diff``, none otherwise;
* ``eqke-errors``: ``eps`` [V] <f4, claimed upper bounds of Err's row ranges;
* ``gaps``: ``gap`` [V, V, n] <i4 (a hint) and ``good`` [V, V, n] |b1 over ``(q, m, c)``;
* ``attention``: ``alpha_lo``, ``alpha_hi`` <f4, claimed bounds of the attention on the max token for the
  good cases other than the all-max ones, in C order;
* ``average-attention`` (``mean-query+diff`` only): ``abar`` [V (m), n (c)] <f8 (a hint);
* ``bounds``: ``bound`` <f4, the claimed negative upper bounds ``B`` of the good cases, in C order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from certificates.codec import Certificate
from certificates.model_file import ModelWeights
from checker.replay import InvalidCertificate, Trace, accept_lower_bounds, accept_upper_bounds
from checker.strategies import ReplayResult, register_all
from checker.strategies.cubic import read_orderings
from checker.strategies.cubic_bounds import CASE_WORK
from checker.strategies.subcubic_bounds import (
    attention_enclosures,
    case_bound_enclosures,
    covered_count,
    gap_in_range,
    logit_terms,
    non_max_slots,
    valid_cases,
)
from checker.strategies.subcubic_direct import DIRECT_PATH_KNOBS, EXACT_DIRECT_PATH, direct_hint_shapes, direct_path
from checker.strategies.subcubic_eqke import (
    ATTENTION_ERROR_KNOBS,
    SUBPRODUCT_DECOMPOSITION,
    eqke_decomposition,
    hint_shapes,
)
from checker.tables import Tables

PREFIX = "subcubic"
CASE_BLOCK = 1 << 19
"""Most (q, m, c) grid cells replayed at once (the whole grid up to V = 256 at n = 8)."""
ATTENTION_KNOBS = ("drop-average-query", "mean-query+diff")
EQKE_HINT_STEP, DIRECT_HINT_STEP, EPS_STEP = "eqke-hints", "direct-hints", "eqke-errors"
GAP_STEP, ATTENTION_STEP, AVERAGE_STEP, BOUND_STEP = "gaps", "attention", "average-attention", "bounds"
RECURSIVE = tuple(knob for knob in SUBPRODUCT_DECOMPOSITION if knob.endswith("recursive"))
EXACT_ATTENTION_ERROR = ("exact", "max-diff-exact")


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


def family(direct: str, attention_error: str) -> str:
    """The paper's table group of a knob combination (module docstring)."""
    if attention_error in EXACT_ATTENTION_ERROR:
        attention_group = ""
    elif attention_error in RECURSIVE:
        attention_group = "attention-quadratic"
    else:
        attention_group = "attention-d_vocab d_model^2"
    direct_group = "" if direct in EXACT_DIRECT_PATH else "direct-quadratic"
    return " + ".join(part for part in (attention_group, direct_group) if part) or PREFIX


def complexity(direct: str, attention_error: str) -> str:
    """The asymptotic cost of the replay: EQKE decomposition and bounds, direct path, then the case bounds."""
    if attention_error in EXACT_ATTENTION_ERROR:
        attention_part = "V^2 d"
    elif attention_error in RECURSIVE:
        attention_part = "V d"
    else:
        attention_part = "V d^2"
    direct_part = "V^2 d" if direct in EXACT_DIRECT_PATH else "V d"
    return f"O({attention_part} + {direct_part} + V^2 n^2)"


NAMES = [
    strategy_name(direct, attention, error)
    for direct in DIRECT_PATH_KNOBS
    for attention in ATTENTION_KNOBS
    for error in ATTENTION_ERROR_KNOBS
]


def replay_subcubic(certificate: Certificate, weights: ModelWeights, tables: Tables) -> ReplayResult:
    direct, attention, attention_error = parse_name(certificate.strategy_name)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    trace = Trace(certificate.trace)
    order = read_orderings(trace, weights)
    if vocab < 2 or n_ctx < 2:
        raise InvalidCertificate(EQKE_HINT_STEP, None, None, "the subcubic strategies need d_vocab, n_ctx >= 2")
    eqke_hints = trace.next(EQKE_HINT_STEP, hint_shapes(attention_error, vocab, weights.d_model))
    direct_hints = trace.next(DIRECT_HINT_STEP, direct_hint_shapes(direct, weights.d_model))
    claimed_eps = trace.next(EPS_STEP, {"eps": ((vocab,), "<f4")})["eps"]
    grid = (vocab, vocab, n_ctx)
    gaps = trace.next(GAP_STEP, {"gap": (grid, "<i4"), "good": (grid, "|b1")})
    gap, good = gaps["gap"].astype(np.int64), gaps["good"]
    alphas = trace.next(ATTENTION_STEP, {"alpha_lo": ((-1,), "<f4"), "alpha_hi": ((-1,), "<f4")})
    average = None
    if attention == "mean-query+diff":
        average = trace.next(AVERAGE_STEP, {"abar": ((vocab, n_ctx), "<f8")})["abar"].astype(np.float64)
    claimed_bound = trace.next(BOUND_STEP, {"bound": ((-1,), "<f4")})["bound"]
    trace.finish()

    cases = good_cases(good, gap)
    q, m, c, _ = cases
    all_max = (q == m) & (c == 0)
    _check_sizes(alphas["alpha_lo"].size, alphas["alpha_hi"].size, claimed_bound.size, all_max)
    _check_negative(claimed_bound, cases)

    ehat, eps_enclosure = eqke_decomposition(attention_error, weights, tables, eqke_hints)
    eps = accept_upper_bounds(claimed_eps, eps_enclosure, step=EPS_STEP, array="eps")
    mu, slack = direct_path(direct, weights, tables, direct_hints)
    terms = logit_terms(tables, mu)
    attended_before = np.concatenate([[0], np.cumsum(~all_max)])
    for part in _case_chunks(q, vocab, n_ctx):
        chunk = tuple(axis[part] for axis in cases)
        chunk_all_max = all_max[part]
        attended = tuple(axis[~chunk_all_max] for axis in chunk)
        claims = slice(int(attended_before[part.start]), int(attended_before[part.stop]))
        lower, upper = attention_enclosures(tables, ehat, eps, order, attended)
        alpha_lo = _accept(accept_lower_bounds, alphas["alpha_lo"][claims], lower, ATTENTION_STEP, "alpha_lo", attended)
        alpha_hi = _accept(accept_upper_bounds, alphas["alpha_hi"][claims], upper, ATTENTION_STEP, "alpha_hi", attended)
        full_lo, full_hi = np.zeros(chunk_all_max.size), np.zeros(chunk_all_max.size)
        full_lo[~chunk_all_max], full_hi[~chunk_all_max] = alpha_lo, alpha_hi
        bounds = case_bound_enclosures(terms, slack, chunk, full_lo, full_hi, average)
        _accept(accept_upper_bounds, claimed_bound[part], bounds, BOUND_STEP, "bound", chunk)
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
        raise InvalidCertificate(GAP_STEP, "good", _first(outside), "claims a case outside the case grid")
    q, m, c = np.nonzero(good)
    g = gap[q, m, c]
    bad = ~gap_in_range(m, g, non_max_slots(q, m, c), vocab)
    if bad.any():
        index = int(np.argmax(bad))
        raise InvalidCertificate(GAP_STEP, "gap", (int(q[index]), int(m[index]), int(c[index])), "gap out of range")
    return q, m, c, g


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _check_sizes(lo_size: int, hi_size: int, bound_size: int, all_max: np.ndarray) -> None:
    attended = int(np.count_nonzero(~all_max))
    if lo_size != attended or hi_size != attended:
        raise InvalidCertificate(ATTENTION_STEP, None, None, f"expected {attended} attention bounds per end")
    if bound_size != all_max.size:
        raise InvalidCertificate(BOUND_STEP, "bound", None, f"{bound_size} bounds for {all_max.size} good cases")


def _check_negative(claimed: np.ndarray, cases: tuple[np.ndarray, ...]) -> None:
    nonnegative = ~(claimed < 0)
    if nonnegative.any():
        index = int(np.argmax(nonnegative))
        where = tuple(int(axis[index]) for axis in cases[:3])
        raise InvalidCertificate(BOUND_STEP, "bound", where, f"claimed-good case has bound {claimed[index]!r} >= 0")


def _accept(accept, claimed, enclosure, step: str, array: str, cases: tuple[np.ndarray, ...]) -> np.ndarray:
    """``accept`` the claims; an INVALID names the failing case ``(q, m, c)``."""
    try:
        return accept(claimed, enclosure, step=step, array=array)
    except InvalidCertificate as failure:
        index = failure.index[0]
        where = tuple(int(axis[index]) for axis in cases[:3])
        raise InvalidCertificate(failure.step, failure.array, where, failure.reason) from None


def subcubic_work(d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> int:
    """Estimated replay work: CASE_WORK per case (q, m, c) and per entry of the V x V and V x d products."""
    return CASE_WORK * (d_vocab * d_vocab * (n_ctx + d_model + d_head) + d_vocab * d_model * d_head)


register_all(NAMES, replay_subcubic, work=subcubic_work)
