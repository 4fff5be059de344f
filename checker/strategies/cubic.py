"""Cubic (SPEC 5.2): replay of the claimed per-case worst-logit bounds, then exact counting.

The bounds and the counting argument are in :mod:`checker.strategies.cubic_bounds`; this strategy uses
the coefficient ``coef[k, m, c] = h[k, m]`` for the non-max token. A claimed bound is accepted only if it
is negative and at least the rigorous upper endpoint; then every sequence of its case is correct.

Difference from the published code (gbmi ``exp_max_of_n/verification/cubic.py``): there the attention
paid to the non-max token ``k`` is set to the query's attention (``q != m``) or to 0 (``q = m``) instead
of the share of the ``k`` slots. That drops the term ``A_k h[k]`` (usually large and positive) and is
unsound: on the seed-123 zoo model it covers 83 wrong inputs, e.g. (0, 19, 19, 20). Here ``A_k`` is the
true share (SPEC 5.2); the published 0.985 relative bound owes most of its margin over this strategy's
0.95 to the dropped term (``cubic-ov-chord`` recovers most of it soundly).

Trace (:data:`SCHEMA`): step ``orderings`` holds ``order`` [V, n-1] (<i4), per query a permutation of the
non-query positions, meant to sort ``EQKP[q, :n-1]`` ascending (a hint: any permutation is sound, see
:func:`checker.strategies.attention.extreme_slot_sums`); step ``bounds`` holds ``good`` [V, V, V, n] (|b1,
indexed ``[q, m, k, c]``) and ``bound`` (<f4), the claimed ``B`` of the good cases in C order of ``good``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checker.kernel import Interval
from checker.kernel.compare import less
from checker.replay import InvalidCertificate, accept_upper, first_index
from checker.schema import ANY, CASES, HINT, UPPER, ArraySchema, StepSchema, Trace, TraceSchema
from checker.strategies import ReplayResult, Strategy, register
from checker.strategies.cubic_bounds import (
    LogitPaths,
    case_attention,
    case_bounds,
    covered_count,
    cubic_work,
    logit_paths,
    valid_cases,
)
from checker.tables import Tables

NAME = "cubic"
CASE_BLOCK = 1 << 20
"""Most grid cells [q, m, k, c] replayed at once (the case bounds take a few hundred bytes per case);
the whole grid at V = 64, n = 4."""
ORDER_STEP, BOUND_STEP = "orderings", "bounds"
ORDERINGS = StepSchema(ORDER_STEP, {"order": ArraySchema(("V", "n-1"), "<i4", HINT)})
BOUNDS = StepSchema(
    BOUND_STEP, {"good": ArraySchema(("V", "V", "V", "n"), "|b1", CASES), "bound": ArraySchema((ANY,), "<f4", UPPER)}
)
SCHEMA = TraceSchema((ORDERINGS, BOUNDS))


def replay_cubic(trace: Trace, tables: Tables) -> ReplayResult:
    order = read_orderings(trace)
    good, claimed = read_claims(trace, tables)
    paths, factors = logit_paths(tables), case_attention(tables, order)
    coefficient = cubic_coefficient(paths, tables.weights.n_ctx)
    for cases, part in claim_chunks(good):
        rigorous, _ = case_bounds(factors, cases, paths, coefficient)
        accept_upper(claimed[part], rigorous, step=BOUND_STEP, array="bound", cases=cases)
    return cubic_result(good, claimed)


def claim_chunks(good: np.ndarray) -> Iterator[tuple[tuple[np.ndarray, ...], slice]]:
    """The claimed-good cases ``(q, m, k, c)`` in C order, in chunks of whole query rows of at most
    CASE_BLOCK grid cells, each with the slice of ``bound`` that holds its claims."""
    rows = max(1, CASE_BLOCK // max(1, good[0].size))
    start = 0
    for first in range(0, good.shape[0], rows):
        q, *rest = np.nonzero(good[first : first + rows])
        cases = (q + first, *rest)
        yield cases, slice(start, start + q.size)
        start += q.size


def cubic_coefficient(paths: LogitPaths, n_ctx: int) -> Interval:
    """The cubic's non-max coefficient ``coef[k, m, c] = h[k, m]`` [V, V, n]."""
    vocab = paths.h.shape[0]
    return paths.h[:, :, None].broadcast_to((vocab, vocab, n_ctx))


def read_orderings(trace: Trace) -> np.ndarray:
    """The ``orderings`` step; each row must be a permutation of ``0..n-2`` (integer bookkeeping)."""
    order = trace[ORDER_STEP]["order"]
    wrong = np.any(np.sort(order, axis=1) != np.arange(order.shape[1]), axis=1)
    if wrong.any():
        raise InvalidCertificate(ORDER_STEP, "order", (int(np.argmax(wrong)),), "not a permutation of 0..n-2")
    return order


def read_claims(trace: Trace, tables: Tables) -> tuple[np.ndarray, np.ndarray]:
    """The ``bounds`` step: ``good`` may mark valid cases only, each with one negative claimed bound."""
    good, claimed = trace[BOUND_STEP]["good"], trace[BOUND_STEP]["bound"]
    outside = good & ~valid_cases(tables.weights.d_vocab, tables.weights.n_ctx)
    if outside.any():
        raise InvalidCertificate(BOUND_STEP, "good", first_index(outside), "claims a case outside the case grid")
    cases = np.nonzero(good)
    if claimed.size != cases[0].size:
        raise InvalidCertificate(
            BOUND_STEP, "bound", None, f"{claimed.size} bounds for {cases[0].size} claimed-good cases"
        )
    nonnegative = ~less(claimed, 0.0)
    if nonnegative.any():
        first = int(np.argmax(nonnegative))
        reason = f"claimed-good case has bound {float(claimed[first])!r} >= 0"
        raise InvalidCertificate(BOUND_STEP, "bound", tuple(int(axis[first]) for axis in cases), reason)
    return good, claimed


def cubic_result(good: np.ndarray, claimed: np.ndarray) -> ReplayResult:
    """The count covered by the (accepted) good cases, with notes."""
    notes = {
        "good_cases": int(claimed.size),
        "cases": int(np.count_nonzero(valid_cases(good.shape[0], good.shape[3]))),
    }
    return ReplayResult(certified_count=covered_count(good), notes=notes)


register(Strategy(NAME, SCHEMA, replay_cubic, cubic_work))
