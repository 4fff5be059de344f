"""The case bounds of the cubic family (SPEC 5.2), in interval arithmetic.

A case ``(q, m, k, c)`` stands for the sequences whose query token is ``q``, whose max is ``m`` and whose
``L = n-1`` non-query positions hold ``c`` copies of ``k < m`` and ``L - c`` copies of ``m`` (``c = 0`` is
written with ``k = m``). :func:`case_bounds` encloses an upper bound ``B`` of
``max_{y != m} (logit_y - logit_m)`` valid for every arrangement of the case. With primes meaning
"centred on m" (``T'[., y] = T[., y] - T[., m]``):

* ``pi[m, y] = max_p PVOU'[p, y]`` over all n positions, so ``sum_p alpha_p PVOU'[p, y] <= pi[m, y]``
  because the attention weights sum to 1;
* ``u[q, m] = max_{y != m} EUPU'[q, y]``, ``ov[t, m, y] = EVOU'[t, y] + pi[m, y]`` and
  ``h[t, m] = max_{y != m} ov[t, m, y]``; hence, for ``c >= 1``,
  ``logit_y - logit_m <= u + A_max h[m, m] + A_k coef[k, m, c] + A_q h[q, m]``, linear in the shares
  (the query slot holds q, which is m when ``q = m``). The cubic strategy uses ``coef = h[k, m]``; the
  chord strategy (:mod:`checker.strategies.cubic_ov_chord`) a tighter coefficient under a side
  condition that its replay checks;
* the shares come from :func:`checker.strategies.attention.extreme_attention`, whose two configurations bound any
  function linear in the shares over every arrangement; ``B`` is the larger of the two;
* ``c = 0`` (a single arrangement) keeps the finer ``max_y`` of the whole sum:
  ``B = max_{y != m} (EUPU'[q, y] + pi[m, y] + A_max EVOU'[m, y] + A_q EVOU'[q, y])``, and with
  ``q = m`` simply ``max_{y != m} (EUPU'[m, y] + EVOU'[m, y] + pi[m, y])``.

Counting (:func:`covered_count`): a good case ``c = 0`` covers one sequence; for ``c >= 1`` every
sequence whose ``c`` non-max, non-query tokens are drawn from ``G = {k : (q, m, k, c) good}`` is
correct. At fixed positions, ``Z (logit_y - logit_m) <= N = sum_p e_p v(x_p)`` with per-slot values
``v`` (e.g. ``u + h[x_p, m]``) and unnormalised weights ``e_p = a[q, x_p] x_p``. A good ``k`` alone gives
``a0 + a[q, k] v(k) X_K < 0`` (``a0`` the max and query slots, ``X_K`` the positional weight of the
non-max slots), so ``a[q, k] v(k) < -a0 / X_K`` for every ``k`` in G and any mixture has ``N < 0``.
That gives ``C(L, c) |G|^c`` sequences (Python ints); with every case good the total is ``V^n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checker.kernel import Interval
from checker.kernel.counting import arrangement_count, count_along
from checker.strategies.attention import LO, extreme_attention, extreme_slot_sums
from checker.tables import Tables

MAX, OTHER, QUERY = 0, 1, 2
"""Share axis of :func:`checker.strategies.attention.extreme_attention`."""


CASE_WORK = 64
"""Work per case of :func:`case_bounds` and the counting, an upper estimate (about 20 FLOPs per case
at V = 64, n = 4)."""


def cubic_work(d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> int:
    """Estimated replay work of the cubic family: CASE_WORK per case of the [V, V, V, n] grid."""
    return CASE_WORK * d_vocab**3 * n_ctx


def valid_cases(vocab: int, n_ctx: int, queries: range | None = None) -> np.ndarray:
    """Boolean [Q, V, V, n] over ``(q, m, k, c)`` for the query tokens ``queries`` (default all V): the
    cases of SPEC 5.2 (q <= m; c = 0 iff k = m; k < m otherwise; at least one non-query max token when
    q < m)."""
    rows = np.arange(vocab) if queries is None else np.asarray(queries, dtype=np.int64)
    q, m, k, c = np.ix_(rows, *(np.arange(size) for size in (vocab, vocab, n_ctx)))
    has_max = (q == m) | (c <= n_ctx - 2)
    return (q <= m) & has_max & np.where(c == 0, k == m, k < m)


@dataclass(frozen=True)
class LogitPaths:
    """Centred logit tables for every max token m, over the wrong outputs ``y_j = others[m][j] != m``:
    ``eupu[q, m, j] = EUPU'[q, y_j]``, ``evou[t, m, j] = EVOU'[t, y_j]``, ``pi[m, j]``,
    ``ov[t, m, j] = evou[t, m, j] + pi[m, j]``, ``u[q, m] = max_j eupu[q, m, j]``, ``h[t, m] = max_j ov``
    (``-inf`` when there is no wrong output, ``d_vocab = 1``: every case is then good)."""

    eupu: Interval
    evou: Interval
    pi: Interval
    ov: Interval
    u: Interval
    h: Interval


def wrong_outputs(vocab: int) -> np.ndarray:
    """[V, V-1]: row m lists the outputs y != m."""
    tokens = np.arange(vocab)
    return np.array([np.delete(tokens, token) for token in tokens]).reshape(vocab, vocab - 1)


def logit_paths(tables: Tables) -> LogitPaths:
    """The :class:`LogitPaths` of the tables (O(V^3) interval operations)."""
    tokens = np.arange(tables.weights.d_vocab)
    others = wrong_outputs(tokens.size)
    eupu_table, evou_table, pvou_table = tables.eupu, tables.evou, tables.pvou
    pi = (pvou_table[:, others] - pvou_table[:, tokens][:, :, None]).max(axis=0)
    eupu = eupu_table[:, others] - eupu_table[:, tokens][:, :, None]
    evou = evou_table[:, others] - evou_table[:, tokens][:, :, None]
    ov = evou + pi[None]
    return LogitPaths(eupu=eupu, evou=evou, pi=pi, ov=ov, u=eupu.max(axis=-1), h=ov.max(axis=-1))


def softmax_factors(tables: Tables) -> tuple[Interval, Interval, Interval]:
    """Enclosures of the positive factors of the unnormalised attention weights, per query q:

    ``token[q, t] = exp(EQKE[q, t] - r_q)``, ``position[q, p] = exp(EQKP[q, p] - s_q)`` for p < n-1 and
    ``query[q] = exp(EQKE[q, q] + EQKP[q, n-1] - r_q - s_q)``, so that key token t at position p weighs
    ``token[q, t] * position[q, p]``, all with the same common factor ``exp(-r_q - s_q)``. The shifts
    ``r_q``, ``s_q`` (:meth:`checker.kernel.Interval.anchor`) only keep the exponents small.
    """
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
    diagonal = np.arange(vocab)
    eqke, eqkp = tables.eqke, tables.eqkp
    token_shift = eqke.anchor(axis=1)
    key_positions = eqkp[:, : n_ctx - 1]
    position_shift = key_positions.anchor(axis=1)
    token = (eqke - token_shift).exp()
    position = (key_positions - position_shift).exp()
    query_score = eqke[diagonal, diagonal] + eqkp[:, n_ctx - 1]
    query = (query_score - token_shift[:, 0] - position_shift[:, 0]).exp()
    return token, position, query


@dataclass(frozen=True)
class CaseAttention:
    """What the attention of every case of one replay is built from (computed once, whatever the blocks):
    the token and query factors of :func:`softmax_factors` and the extreme positional sums
    (:func:`checker.strategies.attention.extreme_slot_sums`) along the orderings hint."""

    token: Interval
    query: Interval
    smallest: Interval
    largest: Interval


def case_attention(tables: Tables, order: np.ndarray) -> CaseAttention:
    """The :class:`CaseAttention` of the tables, with ``order`` [V, n-1] any permutation per row (a hint)."""
    token, position, query = softmax_factors(tables)
    smallest, largest = extreme_slot_sums(position, order)
    return CaseAttention(token, query, smallest, largest)


def case_bounds(
    factors: CaseAttention, cases: tuple[np.ndarray, ...], paths: LogitPaths, other_coefficient: Interval
) -> tuple[Interval, Interval]:
    """Enclosures [len(cases)] of ``B(q, m, k, c)`` (module docstring) for valid cases, and the shares
    [2, 3, cases with c >= 1] of those cases (in their order) for side conditions.

    ``other_coefficient`` [V (k), V (m), n (c)] encloses ``coef``.
    """
    q, m, k, c = cases
    slots = factors.smallest.shape[1] - 1
    token_weights, query_weights, smallest, largest = factors.token, factors.query, factors.smallest, factors.largest

    all_max = (c == 0) & (q == m)
    mm = m[all_max]
    all_max_bound = (paths.eupu[mm, mm] + paths.evou[mm, mm] + paths.pi[mm]).max(axis=-1)

    single = (c == 0) & (q < m)
    qs, ms = q[single], m[single]
    max_factor = token_weights[qs, ms]
    # Every non-query slot holds m: one arrangement, and both configurations are it.
    attention = extreme_attention(
        smallest, largest, qs, np.full(qs.size, slots), max_factor, max_factor, query_weights[qs]
    )[LO]
    logits = (
        paths.eupu[qs, ms] + paths.pi[ms]
        + attention[MAX][:, None] * paths.evou[ms, ms]
        + attention[QUERY][:, None] * paths.evou[qs, ms]
    )
    single_bound = logits.max(axis=-1)

    copies = c > 0
    qs, ms, ks, cs = q[copies], m[copies], k[copies], c[copies]
    attention = extreme_attention(
        smallest, largest, qs, slots - cs, token_weights[qs, ms], token_weights[qs, ks], query_weights[qs]
    )
    mixed = (
        attention[:, MAX] * paths.h[ms, ms]
        + attention[:, OTHER] * other_coefficient[ks, ms, cs]
        + attention[:, QUERY] * paths.h[qs, ms]
    )
    copies_bound = paths.u[qs, ms] + mixed.max(axis=0)
    bounds = Interval.assemble(q.size, [(all_max, all_max_bound), (single, single_bound), (copies, copies_bound)])
    return bounds, attention


def covered_count(good: np.ndarray) -> int:
    """The number of sequences the good cases [q, m, k, c] cover (module docstring), a Python int: every
    ``(q, m, c)`` covers ``C(n-1, c) |G|^c`` with ``G`` its good tokens (``c = 0``: its one sequence)."""
    sizes = count_along(good, axis=2)  # [q, m, c]
    copies = np.broadcast_to(np.arange(good.shape[3]), sizes.shape)
    some = sizes > 0  # (q, m, c) with no good token covers nothing
    return arrangement_count(good.shape[3] - 1, copies[some], sizes[some])
