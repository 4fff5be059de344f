"""Brute force (SPEC 5.1): every one of the V^n input sequences, decided rigorously.

The sign formula (SPEC 2). For a sequence x with query token q = x_{n-1} and max m, let
``e_p = exp(a_p - shift) > 0`` with ``a_p = EQKE[q, x_p] + EQKP[q, p]`` and

    D_p[y] = (EUPU[q,m] - EUPU[q,y]) + (EVOU[x_p,m] - EVOU[x_p,y]) + (PVOU[p,m] - PVOU[p,y]).

Then ``logit_m - logit_y = sum_p e_p D_p[y] / sum_p e_p``, so x is correct iff
``min_{y != m} sum_p e_p D_p[y] > 0``. A score depends only on (q, token, position), so one query's
``L[t, p, m, y] <= e_p(t) * D[t, p, m, y]`` tables (rigorous lower bounds) serve all its sequences:

* stage 1 (O(n) per sequence): ``fl(sum_p min_y L[x_p, p, m, y]) > err`` certifies x, because
  ``min_y sum_p e_p D_p[y] >= sum_p min_y e_p D_p[y] >= sum_p min_y L[x_p, p, m, y]``;
* stage 2 (O(n V) per sequence left over): ``fl(sum_p L_p[y]) > err_y`` for every y != m, with
  ``L_p[y] <= e_p D_p[y]`` recomputed with the sequence's own shift (its largest score).

Each ``err`` bounds the rounding error of that float sum of n entries by the gamma bound of
:func:`checker.kernel.rounding.sum_error_bound` applied to the float sum of the entries' magnitudes (per
sequence, so tiny attention weights do not drown in a global bound), and ``fl(s) > err`` with ``err``
the bound gives an exact sum > 0.
Every certified sequence is therefore correct in exact real arithmetic; ties are never certified.

Memory is bounded whatever V and n are: the query-independent differences and the stage-1 tables are
built for a chunk of max tokens at a time, sequences are decided in blocks of at most BLOCK_TOKENS tokens,
and stage 2 in blocks of at most BLOCK_ELEMENTS table entries, so besides the boolean result ([V]*n for
the whole space, [V]*(n-1-depth) for a shard of :mod:`checker.shards`) no array has more than about
BLOCK_ELEMENTS entries. With n < STAGE1_MIN_CTX every sequence goes straight
to stage 2: a stage-1 table costs V^3 n per query, more than the V^(n-1) n V of deciding each of the
query's sequences in stage 2 when n <= 2 (a d = 1, V = 256, n = 2 model took minutes before).

The trace holds one step, ``failures``: the flat indices (x_0, or in a shard its first free position,
most significant) of up to
``MAX_LISTED_FAILURES`` sequences the prover did not claim. They are diagnostics: the checker verifies
their range and order and reports how many of them it certified anyway.

All arithmetic is one-sided (:class:`checker.kernel.LowerBound`): only lower bounds of margins matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from checker.kernel import Interval, LowerBound
from checker.replay import InvalidCertificate
from checker.schema import ANY, DIAGNOSTIC, ArraySchema, StepSchema, Trace, TraceSchema
from checker.shards import ShardScope
from checker.strategies import ReplayResult, Strategy, register
from checker.tables import Tables

NAME = "brute-force"
SCHEMA = TraceSchema((StepSchema("failures", {"sequences": ArraySchema((ANY,), "<i8", DIAGNOSTIC)}),))
MAX_LISTED_FAILURES = 1 << 16
BLOCK_ELEMENTS = 1 << 22
"""Most entries of one float64 temporary table (32 MiB)."""
BLOCK_TOKENS = 1 << 22
"""Most tokens (sequences times n) decided in one block: their index arrays stay below 64 MiB."""
STAGE1_MIN_CTX = 3
"""The shortest context for which the stage-1 tables are built (module docstring)."""


def brute_force_work(d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> int:
    """Estimated replay work (an upper estimate of the time, in the units of :mod:`checker.limits`): the
    stage-1 tables (8 V^4 n when built), stage 1 for every sequence (2n + 1) and, in the worst case,
    stage 2 for every sequence (V (5n + 4))."""
    vocab = d_vocab
    stage1 = 8 * vocab**4 * n_ctx if n_ctx >= STAGE1_MIN_CTX else 0
    return stage1 + vocab**n_ctx * (2 * n_ctx + 1 + vocab * (5 * n_ctx + 4))


def shard_work(d_vocab: int, n_ctx: int, d_model: int, d_head: int, depth: int) -> int:
    """Estimated replay work of one shard of ``depth``: the stage-1 tables of its query (8 V^3 n, built
    once per shard) and stages 1 and 2 for each of its V^(n-1-depth) sequences, as in
    :func:`brute_force_work`."""
    stage1 = 8 * d_vocab**3 * n_ctx if n_ctx >= STAGE1_MIN_CTX else 0
    return stage1 + d_vocab ** (n_ctx - 1 - depth) * (2 * n_ctx + 1 + d_vocab * (5 * n_ctx + 4))


def replay_brute_force(trace: Trace, tables: Tables) -> ReplayResult:
    listed = _checked_listed(trace, tables.weights.d_vocab**tables.weights.n_ctx)
    return _counted(certified_sequences(tables), listed)


def replay_brute_force_shard(trace: Trace, tables: Tables, scope: ShardScope) -> ReplayResult:
    """The replay of a shard certificate: the shard's sequences (:mod:`checker.shards`), each decided as
    in the whole-space replay; the listed failures are numbered within the shard."""
    listed = _checked_listed(trace, tables.weights.d_vocab**scope.free)
    return _counted(certified_in_shard(tables, scope), listed)


def _checked_listed(trace: Trace, total: int) -> np.ndarray:
    """The listed failures, checked (before any replay work) to be at most MAX_LISTED_FAILURES increasing
    indices below ``total``."""
    listed = trace["failures"]["sequences"]
    if listed.size > MAX_LISTED_FAILURES:
        raise InvalidCertificate("failures", "sequences", None, f"more than {MAX_LISTED_FAILURES} listed")
    if listed.size and (listed.min() < 0 or listed.max() >= total or np.any(listed[1:] <= listed[:-1])):
        raise InvalidCertificate("failures", "sequences", None, "indices must be increasing and in range")
    return listed


def _counted(certified: np.ndarray, listed: np.ndarray) -> ReplayResult:
    """The count of ``certified`` sequences, with how many of the ``listed`` failures (flat indices into
    ``certified``) were certified anyway."""
    listed_certified = int(np.count_nonzero(certified.reshape(-1)[listed]))
    return ReplayResult(
        certified_count=int(np.count_nonzero(certified)),
        notes={"listed_failures": int(listed.size), "listed_failures_certified": listed_certified},
    )


def certified_sequences(tables: Tables) -> np.ndarray:
    """Boolean array [V]*n (x_0 first): True where the sequence is proven correct. The query-independent
    output differences are built once per chunk of maxima and shared by every query."""
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    certified = np.zeros((vocab,) * n_ctx, dtype=bool)
    if n_ctx < STAGE1_MIN_CTX:
        for query in range(vocab):
            certified[..., query] = _certified_in_stage2(tables, ShardScope(query, (), n_ctx - 1))
        return certified
    for maxima in _chunks(vocab, n_ctx, 0):
        shared = _output_differences(tables, maxima)
        for query in range(maxima.stop):
            stage1 = _stage1_table(tables, shared, query, maxima)
            scope = ShardScope(query, (), n_ctx - 1)
            for m in range(max(query, maxima.start), maxima.stop):
                j = m - maxima.start
                _certify_block(certified[..., query], tables, stage1[:, :, j], shared[:, :, j], scope, m)
    return certified


def certified_in_shard(tables: Tables, scope: ShardScope) -> np.ndarray:
    """Boolean array [V]*free over the shard's free positions (C order): True where the sequence is proven
    correct. Memory is independent of V^n: besides this array, only the blocks of the module docstring."""
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    if n_ctx < STAGE1_MIN_CTX:
        return _certified_in_stage2(tables, scope)
    certified = np.zeros((vocab,) * scope.free, dtype=bool)
    for maxima in _chunks(vocab, n_ctx, max((scope.query, *scope.prefix))):
        shared = _output_differences(tables, maxima)
        stage1 = _stage1_table(tables, shared, scope.query, maxima)
        for j, m in enumerate(maxima):
            _certify_block(certified, tables, stage1[:, :, j], shared[:, :, j], scope, m)
    return certified


def _chunks(vocab: int, n_ctx: int, first: int) -> Iterator[range]:
    """The max tokens ``first..V-1`` in chunks whose output differences [t, p, j, y] have at most about
    BLOCK_ELEMENTS entries."""
    chunk = max(1, BLOCK_ELEMENTS // (vocab * n_ctx * vocab))
    for start in range(first, vocab, chunk):
        yield range(start, min(start + chunk, vocab))


def decide_sequences(tables: Tables, sequences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sequences [K, n] (x_0 first, tokens in ``0..V-1``): masks [K] of those proven correct (stage 2)
    and of those proven wrong (:func:`proven_wrong`); a sequence may be neither (a tie, or too close to
    decide), never both. Not used by any verdict: statistical estimates decide their samples with it."""
    correct, wrong = np.zeros(sequences.shape[0], dtype=bool), np.zeros(sequences.shape[0], dtype=bool)
    queries, maxima, tokens = sequences[:, -1], sequences.max(axis=1), sequences[:, :-1]
    for query in np.unique(queries):
        rows = np.flatnonzero(queries == query)
        correct[rows] = _stage2(
            tables, int(query), maxima[rows], tokens[rows], partial(_sequence_differences, tables)
        )
        left = rows[~correct[rows]]
        wrong[left] = proven_wrong(tables, int(query), maxima[left], tokens[left])
    return correct, wrong


def _output_differences(tables: Tables, maxima: range) -> LowerBound:
    """``[t, p, j, y] <= (EVOU[t,m] - EVOU[t,y]) + (PVOU[p,m] - PVOU[p,y])`` for ``m = maxima[j]``,
    independent of the query."""
    evou, pvou = tables.evou, tables.pvou
    chosen = slice(maxima.start, maxima.stop)
    evou_diff = evou[:, chosen, None].lower() - evou[:, None, :]  # [t, j, y]
    pvou_diff = pvou[:, chosen, None].lower() - pvou[:, None, :]  # [p, j, y]
    return evou_diff[:, None] + pvou_diff[None]


def _sequence_differences(tables: Tables, sequences: np.ndarray, maxima: np.ndarray) -> LowerBound:
    """``[K, p, y] <= (EVOU[x_p,m] - EVOU[x_p,y]) + (PVOU[p,m] - PVOU[p,y])`` for the sequences [K, n]
    with maxima ``m`` [K]: the same float operations as :func:`_output_differences`, hence the same values."""
    evou, pvou = tables.evou, tables.pvou
    evou_diff = evou[sequences, maxima[:, None]][:, :, None].lower() - evou[sequences]  # [K, p, y]
    pvou_diff = pvou[:, maxima].T[:, :, None].lower() - pvou[None]  # [K, p, y]
    return evou_diff + pvou_diff


def _unembed_differences(unembed: Interval, maxima: np.ndarray | slice) -> LowerBound:
    """``[j, y] <= EUPU[q,m] - EUPU[q,y]`` for ``m = maxima[j]``, from the query's row ``unembed``."""
    return unembed[maxima][:, None].lower() - unembed[None, :]


def _stage1_table(tables: Tables, shared: LowerBound, query: int, maxima: range) -> LowerBound:
    """``S1[t, p, j] <= min_{y != m} e_p(t) D[t, p, m, y]`` for ``m = maxima[j]``, with one shift for
    the whole query."""
    scores = tables.eqke[query][:, None] + tables.eqkp[query][None, :]  # [t, p]
    weights = (scores - scores.reshape(-1).anchor(axis=0)).exp()
    unembed = _unembed_differences(tables.eupu_rows(np.array([query]))[0], slice(maxima.start, maxima.stop))
    lower = (unembed + shared).weighted(weights)  # [t, p, j, y]
    chunk = np.arange(len(maxima))
    return lower.min(axis=3, without=(slice(None), slice(None), chunk, chunk + maxima.start))  # y = m competes not


def _certify_block(
    certified: np.ndarray, tables: Tables, stage1: LowerBound, shared: LowerBound, scope: ShardScope, m: int
) -> None:
    """Certify the sequences of ``scope`` whose maximum is ``m`` into ``certified`` [V]*free (the free
    positions); ``stage1[t, p]`` is the stage-1 table of the scope's query and of max ``m``,
    ``shared[t, p, y]`` the output differences of max ``m``."""
    n_ctx, fixed = stage1.shape[1], len(scope.prefix)
    positions = np.arange(n_ctx)[None, :]

    def gathered(sequences: np.ndarray, _: np.ndarray) -> LowerBound:
        return shared[sequences, positions]

    base = [stage1[scope.query, n_ctx - 1], *(stage1[t, p] for p, t in enumerate(scope.prefix))]
    for ranges in _max_blocks(max((scope.query, *scope.prefix)), m, scope.free, fixed):
        parts = [*base, *(stage1[t, fixed + p] for p, t in enumerate(ranges))]
        passed = LowerBound.outer_sum_certainly_positive(parts)
        left = np.nonzero(~passed)
        if left[0].size:
            free_left = [ranges[p][idx] for p, idx in enumerate(left)]
            tokens_left = np.stack([np.full(left[0].size, t) for t in scope.prefix] + free_left, axis=1)
            passed[left] = _stage2(tables, scope.query, np.full(left[0].size, m), tokens_left, gathered)
        certified[np.ix_(*ranges)] = passed


def _certified_in_stage2(tables: Tables, scope: ShardScope) -> np.ndarray:
    """Boolean array [V]*free: the sequences of ``scope`` certified in stage 2 alone, in blocks."""
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    free = (vocab,) * scope.free
    decided = np.empty(vocab**scope.free, dtype=bool)
    block = BLOCK_TOKENS // n_ctx
    for start in range(0, decided.size, block):
        flat = np.arange(start, min(start + block, decided.size))
        free_tokens = np.stack(np.unravel_index(flat, free), axis=1).reshape(flat.size, scope.free)
        fixed = np.broadcast_to(np.array(scope.prefix, dtype=np.int64), (flat.size, len(scope.prefix)))
        tokens = np.concatenate([fixed, free_tokens], axis=1)
        maxima = np.maximum(tokens.max(axis=1, initial=0), scope.query)
        decided[flat] = _stage2(tables, scope.query, maxima, tokens, partial(_sequence_differences, tables))
    return decided.reshape(free)


def _stage2(
    tables: Tables, query: int, maxima: np.ndarray, tokens: np.ndarray,
    differences: Callable[[np.ndarray, np.ndarray], LowerBound],
) -> np.ndarray:
    """``sum_p L_p[y] > 0`` proven for every y != m, for the sequences ``tokens`` [K, n-1] with maxima
    ``m`` = ``maxima`` [K], decided in blocks of at most BLOCK_ELEMENTS entries. ``differences(x, m)``
    gives the output differences [K, n, y] of the full sequences ``x`` [K, n] (those of
    :func:`_output_differences`, gathered or recomputed).

    Each sequence gets its own shift (its largest score), so its attention weights are near 1 at the
    top and the terms cannot all underflow.
    """
    unembed = tables.eupu_rows(np.array([query]))[0]

    def margins(sequences: np.ndarray, m: np.ndarray) -> LowerBound:
        return _unembed_differences(unembed, m)[:, None, :] + differences(sequences, m)

    return _decided(tables, query, maxima, tokens, margins, every=True)


def proven_wrong(tables: Tables, query: int, maxima: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """For the sequences ``tokens`` [K, n-1] with query ``query`` and maxima ``maxima`` [K]: some
    ``y != m`` is proven to have ``logit_y > logit_m`` (the sequence is wrong), by the sign formula with
    the roles of m and y exchanged: ``sum_p e_p (-D_p[y]) > 0`` with ``-D_p[y]`` bounded below by
    ``(EUPU[q,y] - EUPU[q,m]) + (EVOU[x_p,y] - EVOU[x_p,m]) + (PVOU[p,y] - PVOU[p,m])``. Not used by any
    verdict (see :func:`decide_sequences`)."""
    unembed, evou, pvou = tables.eupu_rows(np.array([query]))[0], tables.evou, tables.pvou

    def reversed_margins(sequences: np.ndarray, m: np.ndarray) -> LowerBound:
        unembed_part = unembed[None, :].lower() - unembed[m][:, None]  # [K, y]
        evou_part = evou[sequences].lower() - evou[sequences, m[:, None]][:, :, None]  # [K, p, y]
        pvou_part = pvou[None].lower() - pvou[:, m].T[:, :, None]  # [K, p, y]
        return unembed_part[:, None, :] + (evou_part + pvou_part)

    return _decided(tables, query, maxima, tokens, reversed_margins, every=False)


def _decided(
    tables: Tables, query: int, maxima: np.ndarray, tokens: np.ndarray,
    margins: Callable[[np.ndarray, np.ndarray], LowerBound], *, every: bool,
) -> np.ndarray:
    """Per sequence, whether ``sum_p e_p M_p[y] > 0`` is proven for every ``y != m`` (``every``) or for
    some ``y != m`` (not ``every``), with ``margins(x, m)`` [K, n, y] lower bounds of ``M_p[y]`` and
    ``e_p`` the attention weights shifted by the sequence's largest score."""
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    block = max(1, BLOCK_ELEMENTS // (n_ctx * vocab))
    decided = np.empty(tokens.shape[0], dtype=bool)
    for start in range(0, tokens.shape[0], block):
        part, m = tokens[start : start + block], maxima[start : start + block]
        count = part.shape[0]
        sequences = np.concatenate([part, np.full((count, 1), query)], axis=1)  # [K, n]
        scores = tables.eqke[query][sequences] + tables.eqkp[query][None, :]  # [K, n]
        weights = (scores - scores.anchor(axis=1)).exp()
        proven = margins(sequences, m).weighted(weights).sum_certainly_positive(axis=1)  # [K, y]
        proven[np.arange(count), m] = every  # y = m is not a competitor
        decided[start : start + count] = proven.all(axis=1) if every else proven.any(axis=1)
    return decided


def _max_blocks(fixed_max: int, m: int, free: int, fixed: int = 0) -> Iterator[list[np.ndarray]]:
    """Token ranges, one per free position, whose products are every arrangement of the free positions
    that makes the sequence's max exactly ``m >= fixed_max`` (the max of its fixed tokens), each product
    at most BLOCK_TOKENS / n sequences (each of n tokens).

    With fixed_max = m: all tokens in [0, m]. With fixed_max < m: blocks by the first free position j
    holding m (free positions before j in [0, m), j = m, after j in [0, m]); the blocks are disjoint and
    cover all.
    """
    limit = BLOCK_TOKENS // (free + 1 + fixed)
    up_to = np.arange(m + 1)
    if fixed_max == m:
        yield from _split([up_to] * free, limit)
        return
    below, only = np.arange(m), np.array([m])
    for j in range(free):
        yield from _split([below] * j + [only] + [up_to] * (free - 1 - j), limit)


def _split(ranges: list[np.ndarray], limit: int) -> Iterator[list[np.ndarray]]:
    """``ranges`` cut along its leading axes into pieces of at most ``limit`` sequences."""
    rest = math.prod(r.size for r in ranges[1:])
    if rest * ranges[0].size <= limit:
        yield ranges
    elif rest <= limit:
        step = limit // rest
        for start in range(0, ranges[0].size, step):
            yield [ranges[0][start : start + step], *ranges[1:]]
    else:
        for token in ranges[0]:
            for tail in _split(ranges[1:], limit):
                yield [np.array([token]), *tail]


register(Strategy(NAME, SCHEMA, replay_brute_force, brute_force_work, replay_brute_force_shard, shard_work))
