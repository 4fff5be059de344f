"""Cubic (SPEC 5.2) with a compact trace: the checker bounds every case itself and counts those it proves.

The bounds and the counting argument are in :mod:`checker.strategies.cubic_bounds`; this strategy uses
the coefficient ``coef[k, m, c] = h[k, m]`` for the non-max token. A valid case is good when the rigorous
upper endpoint of its bound ``B`` is negative; then every sequence of its case is correct. The checker
bounds the selected cases in blocks of query rows, so the certificate carries only hints and the claimed
count, which the checker's count must reach.

Difference from the published code (gbmi ``exp_max_of_n/verification/cubic.py``): there the attention
paid to the non-max token ``k`` is set to the query's attention (``q != m``) or to 0 (``q = m``) instead
of the share of the ``k`` slots. That drops the term ``A_k h[k]`` (usually large and positive) and is
unsound: on the seed-123 zoo model it covers 83 wrong inputs, e.g. (0, 19, 19, 20). Here ``A_k`` is the
true share (SPEC 5.2); the published 0.985 relative bound owes most of its margin over this strategy's
0.95 to the dropped term (``cubic-ov-chord`` recovers most of it soundly).

Trace (:data:`SCHEMA`), hints only (any values are sound):

* step ``orderings``: ``order`` [V, n-1] (<i4), per query a permutation of the non-query positions, meant
  to sort ``EQKP[q, :n-1]`` ascending (see :func:`checker.strategies.attention.extreme_slot_sums`);
* step ``selection``: ``triples`` [V (q), V (m), n (c)] (|b1), the ``(q, m, c)`` whose cases the checker
  bounds, meant to be those with some good ``k`` (a case outside the selection is not good, which loses
  tightness only), so that a proof pays nothing for the cases it cannot prove.

SPEC 5.2's trace also lists the claimed bound of every good case; this one leaves them out (the checker
computes each bound anyway, and comparing it with 0 costs what comparing it with a claim did), so a
certificate is O(V^2 n) bytes instead of O(V^3 n).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from checker.kernel import Interval
from checker.replay import InvalidCertificate
from checker.schema import HINT, ArraySchema, StepSchema, Trace, TraceSchema
from checker.strategies import ReplayResult, Strategy, register
from checker.strategies.cubic_bounds import (
    CaseAttention,
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
"""Most grid cells [q, m, k, c] bounded at once (the case bounds take a few hundred bytes per case), in
whole query rows (one row at least); the whole grid at V = 64, n = 4."""
ORDER_STEP, SELECTION_STEP = "orderings", "selection"
ORDERINGS = StepSchema(ORDER_STEP, {"order": ArraySchema(("V", "n-1"), "<i4", HINT)})
SELECTION = StepSchema(SELECTION_STEP, {"triples": ArraySchema(("V", "V", "n"), "|b1", HINT)})
SCHEMA = TraceSchema((ORDERINGS, SELECTION))

SideCondition = Callable[[Interval, tuple[np.ndarray, ...]], np.ndarray]
"""``(shares [2, 3, cases with c >= 1], cases) -> mask over those cases``: an extra condition a case with
``c >= 1`` must meet to be good (:func:`checker.strategies.cubic_bounds.case_bounds` gives the shares)."""


def replay_cubic(trace: Trace, tables: Tables) -> ReplayResult:
    return cubic_result(cubic_blocks(trace, tables))


def cubic_blocks(trace: Trace, tables: Tables) -> Iterator[CaseBlock]:
    """The good cases of the cubic bound along the trace's hints, block by block."""
    order = read_orderings(trace)
    paths = logit_paths(tables)
    coefficient = cubic_coefficient(paths, tables.weights.n_ctx)
    return proven_blocks(tables, case_attention(tables, order), paths, coefficient, trace[SELECTION_STEP]["triples"])


@dataclass(frozen=True)
class CaseBlock:
    """The cases of consecutive query rows ``first, first + 1, ...``: ``good`` [rows, V, V, n] marks the
    valid cases proven correct; ``valid`` and ``bounded`` count the block's valid and selected cases."""

    first: int
    good: np.ndarray
    valid: int
    bounded: int


def proven_blocks(
    tables: Tables, factors: CaseAttention, paths: LogitPaths, coefficient: Interval, selected: np.ndarray,
    condition: SideCondition | None = None,
) -> Iterator[CaseBlock]:
    """The valid cases whose ``(q, m, c)`` is ``selected`` [V, V, n], bounded in blocks of whole query rows
    of at most CASE_BLOCK cells: a case is good when its bound ``B`` (non-max coefficient ``coefficient``
    [k, m, c]) is proven negative and, for ``c >= 1``, ``condition`` holds."""
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    rows = max(1, CASE_BLOCK // max(1, vocab * vocab * n_ctx))
    for first in range(0, vocab, rows):
        queries = range(first, min(first + rows, vocab))
        valid = valid_cases(vocab, n_ctx, queries)
        chosen = valid & selected[first : queries.stop, :, None, :]
        local = np.nonzero(chosen)
        cases = (local[0] + first, *local[1:])
        rigorous, attention = case_bounds(factors, cases, paths, coefficient)
        proven = rigorous.strictly_below(0.0)
        if condition is not None:
            proven[cases[3] > 0] &= condition(attention, cases)
        good = np.zeros(valid.shape, dtype=bool)
        good[tuple(axis[proven] for axis in local)] = True
        yield CaseBlock(first, good, int(np.count_nonzero(valid)), int(local[0].size))


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


def cubic_result(blocks: Iterable[CaseBlock]) -> ReplayResult:
    """The count covered by the good cases of every block (the count is additive over query rows), with
    notes."""
    count = good_cases = cases = bounded = 0
    for block in blocks:
        count += covered_count(block.good)
        good_cases += int(np.count_nonzero(block.good))
        cases += block.valid
        bounded += block.bounded
    notes = {"good_cases": good_cases, "bounded_cases": bounded, "cases": cases}
    return ReplayResult(certified_count=count, notes=notes)


register(Strategy(NAME, SCHEMA, replay_cubic, cubic_work))
