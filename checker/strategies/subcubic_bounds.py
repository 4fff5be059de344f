"""Subcubic steps C to F (SPEC 5.3): gaps, attention on the max token, case bounds and counting.

Cases ``(q, m, c)``: query token q, max m, ``c`` non-max tokens counting the query when ``q != m``, so
``j = c - [q != m]`` non-query positions hold a non-max token and ``n - 1 - j`` hold m. A gap ``g``
(a hint, 1 <= g <= V-1, and g <= m when j >= 1) restricts the case to non-query non-max tokens
``k <= m - g``; the query token is known and treated on its own, so it need not satisfy that.

Step C (gaps). With ``eps[q] >= max_{i,j} (Err[q,i] - Err[q,j])`` and any real Ehat,
``D_k = EQKE[q,m] - EQKE[q,k] = Ehat[q,m] - Ehat[q,k] + Err[q,m] - Err[q,k]`` satisfies, for k <= m - g,
``Ehat[q,m] - max_{k'<=m-g} Ehat[q,k'] - eps[q] <= D_k <= Ehat[q,m] - min_{k'<=m-g} Ehat[q,k'] + eps[q]``
(prefix maxima and minima of Ehat's rows), and the query's ``D_q`` lies in ``Ehat[q,m] - Ehat[q,q] +- eps[q]``.

Step D (attention). Relative to the max token's score and a per-query shift, a max slot at position p
weighs ``x_p = exp(EQKP[q,p] - shift)``, a non-max slot ``exp(-D_k) x_p`` and the query slot
``exp(EQKP[q,n-1] - shift - D_q)`` (no ``D_q`` when q = m). The attention ``alpha`` on the max token
(the query's share included when q = m) is at least ``X / (X + F_hi (T - X) + w_hi)`` (q != m) or
``(X + w) / (X + w + F_hi (T - X))`` (q = m), both increasing in the max slots' positional weight X, so
the configuration LO of :func:`checker.strategies.attention.extreme_attention` (the M smallest x_p) gives a lower
bound; mirrored, HI gives an upper bound. ``F`` is the enclosure ``[exp(-D_hi), exp(-D_lo)]``.

Step E (logits). With the direct path's ``EUPU[q,y] - EUPU[q,m] <= mu_y - mu_m + dU[q]``,
``E_y = EVOU[m,y] - EVOU[m,m]``, ``pi[y] = max_p (PVOU[p,y] - PVOU[p,m])`` (the weights sum to 1),
``A_y = mu_y - mu_m + pi[y]`` and ``W >= EVOU[k,y] - EVOU[k,m]`` for every non-max token present (the
prefix maximum of ``range(EVOU[k,:])`` over k <= m - g, and ``range(EVOU[q,:])`` when q != m):

    logit_y - logit_m <= A_y + dU[q] + alpha E_y + (1 - alpha) W      for every y != m.

* ``drop-average-query``: ``B = max_y A_y + dU[q] + alpha R + (1 - alpha) W``, ``R = max_{y!=m} E_y``;
  linear in alpha, so the larger value at the two claimed alpha ends bounds every alpha between them.
* ``mean-query+diff`` with any real ``abar`` (a hint per (m, c)): ``max_y (A_y + alpha E_y) <=
  max_y (A_y + abar E_y) + max_y (alpha - abar) E_y`` and ``max_y (alpha - abar) E_y`` is
  ``(alpha - abar) R`` when alpha >= abar and ``(alpha - abar) min_{y!=m} E_y`` when alpha < abar (FIX:
  the published step always uses R, which under-estimates when alpha < abar). The resulting
  ``B(alpha) = max_y (A_y + abar E_y) + (1 - abar) W + dU[q] + (alpha - abar)(R* - W)`` is convex in alpha
  (a maximum of two lines), so again its larger value at the two ends bounds it.
* all-max case (q = m, c = 0, alpha = 1): with the exact direct path,
  ``B = max_{y!=m} (EUPU[m,y] - EUPU[m,m] + E_y + pi[y])`` (:func:`exact_all_max`, reading the row EUPU[m]);
  with the direct path's ``mu`` and ``dU``, ``B = max_{y!=m} (A_y + E_y) + dU[m]`` (:func:`factored_all_max`).
  The factored knobs use the factored bound except for the max tokens their hint ``exact_rows`` names,
  whose exact rows they read (:func:`all_max_bounds`): they pay for the EUPU rows they need and no more.

Step F (counting). A case with ``B < 0`` has every sequence correct: ``C(n-1, j) (m - g + 1)^j`` of them
(positions of the j non-max slots, tokens 0..m-g each; FIX: the published count uses m - g).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checker.kernel import Interval
from checker.kernel.compare import greater_equal
from checker.kernel.counting import arrangement_count
from checker.strategies.attention import HI, LO, extreme_attention, extreme_slot_sums
from checker.strategies.cubic_bounds import MAX, QUERY, wrong_outputs
from checker.tables import Tables


def valid_cases(vocab: int, n_ctx: int) -> np.ndarray:
    """Boolean [V (q), V (m), n (c)]: q <= m; c = 0..n-1 when q = m (c >= 1 needs m >= 1); c = 1..n-1 when q < m."""
    q, m, c = np.ix_(np.arange(vocab), np.arange(vocab), np.arange(n_ctx))
    return (q <= m) & np.where(q == m, (c == 0) | (m >= 1), c >= 1)


def non_max_slots(q: np.ndarray, m: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``j``: the number of non-query positions holding a non-max token."""
    return c - (q != m).astype(c.dtype)


def gap_in_range(m: np.ndarray, g: np.ndarray, j: np.ndarray, vocab: int) -> np.ndarray:
    """True where the gap is usable: 1 <= g <= V-1, and g <= m when some non-query slot is non-max."""
    return (g >= 1) & (g <= vocab - 1) & ((j == 0) | (g <= m))


@dataclass(frozen=True)
class AttentionSetup:
    """What the attention bounds of every case of one replay share (computed once, whatever the chunks):
    the query-slot scores and the extreme sums of the positional weights ``exp(EQKP[q, p] - shift)`` along
    the orderings hint, Ehat with its running extrema along each row, and ``eps`` as ``[-eps, eps]``."""

    query_score: Interval
    smallest: Interval
    largest: Interval
    ehat: Interval
    running_max: Interval
    running_min: Interval
    spread: Interval


def attention_setup(tables: Tables, ehat: Interval, eps: np.ndarray, order: np.ndarray) -> AttentionSetup:
    """The :class:`AttentionSetup` of the tables, the knob's Ehat, accepted ``eps`` and the hint ``order``."""
    slots = tables.weights.n_ctx - 1
    keys = tables.eqkp[:, :slots]
    shift = keys.anchor(axis=1)  # any float: keeps the exponents small
    smallest, largest = extreme_slot_sums((keys - shift).exp(), order)
    return AttentionSetup(
        query_score=tables.eqkp[:, slots] - shift[:, 0], smallest=smallest, largest=largest, ehat=ehat,
        running_max=ehat.running_max(), running_min=ehat.running_min(),
        spread=Interval.spanning(Interval.exact(-eps), Interval.exact(eps)),
    )


def attention_enclosures(setup: AttentionSetup, cases: tuple[np.ndarray, ...]) -> tuple[Interval, Interval]:
    """Enclosures whose ``.lo`` (first) and ``.hi`` (second) bound the attention on the max token of every
    sequence of each case ``(q, m, c, g)`` (none may be the all-max case), given accepted ``eps``."""
    q, m, c, g = cases
    vocab, slots = setup.ehat.shape[0], setup.smallest.shape[1] - 1
    j = non_max_slots(q, m, c)
    ehat, spread = setup.ehat, setup.spread
    top = np.clip(m - g, 0, vocab - 1)
    diagonal = ehat[q, m]
    lower = (diagonal - setup.running_max[q, top]) - spread[q]
    upper = (diagonal - setup.running_min[q, top]) + spread[q]
    other = (-Interval.spanning(lower, upper)).exp()
    other = Interval.where(j > 0, other, Interval.exact(np.zeros(q.size)))

    query_score = setup.query_score[q]
    query_gap = (diagonal - ehat[q, q]) + spread[q]
    query = Interval.where(q == m, query_score.exp(), (query_score - query_gap).exp())

    shares = extreme_attention(
        setup.smallest, setup.largest, q, slots - j, Interval.exact(np.ones(q.size)), other, query
    )
    max_query = Interval.exact((q == m).astype(np.float64))
    return (
        shares[LO, MAX] + shares[LO, QUERY].scale_nonnegative(max_query),
        shares[HI, MAX] + shares[HI, QUERY].scale_nonnegative(max_query),
    )


@dataclass(frozen=True)
class LogitTerms:
    """Per max token m, over the wrong outputs ``y_j = others[m][j]``: ``e[m, j] = E_y``, ``pi[m, j]``,
    ``a[m, j] = A_y``; ``r[m] = max_j e``, ``e_min[m] = min_j e``, ``a_max[m] = max_j a``;
    ``ranges[k] = range(EVOU[k,:])``, ``ranges_prefix[t] = max_{k<=t} ranges[k]``."""

    e: Interval
    pi: Interval
    a: Interval
    r: Interval
    e_min: Interval
    a_max: Interval
    ranges: Interval
    ranges_prefix: Interval


def logit_terms(tables: Tables, mu: Interval) -> LogitTerms:
    """The :class:`LogitTerms` of the tables and the direct path's ``mu`` (O(V^2 n))."""
    tokens = np.arange(tables.weights.d_vocab)
    others = wrong_outputs(tokens.size)
    evou, pvou = tables.evou, tables.pvou
    pi = (pvou[:, others] - pvou[:, tokens][:, :, None]).max(axis=0)
    e = evou[tokens[:, None], others] - evou[tokens, tokens][:, None]
    a = (mu[others] - mu[:, None]) + pi
    ranges = evou.row_range()
    return LogitTerms(
        e=e, pi=pi, a=a, r=e.max(axis=1), e_min=e.min(axis=1), a_max=a.max(axis=1), ranges=ranges,
        ranges_prefix=ranges.running_max(),
    )


def non_max_weight(terms: LogitTerms, cases: tuple[np.ndarray, ...]) -> Interval:
    """``W`` of each case: bounds ``EVOU[k,y] - EVOU[k,m]`` for the non-max tokens present (module docstring)."""
    q, m, c, g = cases
    j = non_max_slots(q, m, c)
    top = np.clip(m - g, 0, terms.ranges.shape[0] - 1)
    weight = Interval.where(j > 0, terms.ranges_prefix[top], terms.ranges[q])
    return Interval.where((q != m) & (j > 0), weight.maximum(terms.ranges[q]), weight)


@dataclass(frozen=True)
class MeanQuery:
    """``mean-query+diff``'s hint ``abar`` [V (m), n (c)] and ``best[m, c] = max_y (A_y + abar E_y)``, computed
    once per replay."""

    average: np.ndarray
    best: Interval


def mean_query(terms: LogitTerms, average: np.ndarray) -> MeanQuery:
    """The :class:`MeanQuery` of the hint ``average`` [V, n] (any reals: a hint)."""
    best = (terms.a[:, None, :] + terms.e[:, None, :] * Interval.exact(average[:, :, None])).max(axis=2)
    return MeanQuery(average, best)


def case_bound_enclosures(
    terms: LogitTerms,
    slack: Interval,
    cases: tuple[np.ndarray, ...],
    alpha_lo: np.ndarray,
    alpha_hi: np.ndarray,
    mean: MeanQuery | None,
) -> Interval:
    """Enclosures (use ``.hi``) of ``B(q, m, c)`` for cases other than the all-max ones (module docstring,
    step E), given accepted attention bounds ``alpha_lo <= alpha <= alpha_hi``, the direct path's
    ``slack = dU`` and, for ``mean-query+diff``, its :class:`MeanQuery` (None: ``drop-average-query``)."""
    q, m, c, _ = cases
    weight = non_max_weight(terms, cases)
    ends = [Interval.exact(alpha_lo), Interval.exact(alpha_hi)]
    if mean is None:
        mixed = [terms.r[m] * alpha + weight * (1.0 - alpha) for alpha in ends]
        return terms.a_max[m] + slack[q] + mixed[0].maximum(mixed[1])
    level = Interval.exact(mean.average[m, c])
    corrections = []
    for alpha, claimed in zip(ends, (alpha_lo, alpha_hi), strict=True):
        slope = Interval.where(greater_equal(claimed, mean.average[m, c]), terms.r[m], terms.e_min[m])
        corrections.append((alpha - level) * (slope - weight))
    return mean.best[m, c] + weight * (1.0 - level) + slack[q] + corrections[0].maximum(corrections[1])


def exact_all_max(tables: Tables, terms: LogitTerms, maxima: np.ndarray) -> Interval:
    """``B`` of the all-max cases of ``maxima`` with the exact direct path (module docstring): reads the
    EUPU rows of ``maxima`` only."""
    others = wrong_outputs(tables.weights.d_vocab)[maxima]
    rows = tables.eupu_rows(maxima)
    index = np.arange(maxima.size)
    direct = rows[index[:, None], others] - rows[index, maxima][:, None]
    return (direct + terms.e[maxima] + terms.pi[maxima]).max(axis=-1)


def factored_all_max(terms: LogitTerms, slack: Interval, maxima: np.ndarray) -> Interval:
    """``B`` of the all-max cases of ``maxima`` with the direct path's ``mu`` and ``dU`` (module docstring)."""
    return (terms.a[maxima] + terms.e[maxima]).max(axis=-1) + slack[maxima]


def all_max_bounds(
    tables: Tables, terms: LogitTerms, slack: Interval, maxima: np.ndarray, exact_rows: np.ndarray | None
) -> Interval:
    """Enclosures of ``B`` for the all-max cases of ``maxima``: the exact one for an exact direct path
    (``exact_rows`` None); otherwise the exact one where the hint ``exact_rows`` [V] is True for the max
    token and the factored one elsewhere (both enclose upper bounds of the same logit difference, so
    either is sound and any hint is)."""
    if exact_rows is None:
        return exact_all_max(tables, terms, maxima)
    exact = exact_rows[maxima]
    parts = [(~exact, factored_all_max(terms, slack, maxima[~exact]))]
    if exact.any():
        parts.append((exact, exact_all_max(tables, terms, maxima[exact])))
    return Interval.assemble(maxima.size, parts)


def covered_count(good: np.ndarray, gap: np.ndarray) -> int:
    """``sum over good cases of C(n-1, j) (m - g + 1)^j`` (Python ints; step F). A case with ``j = 0`` covers
    its one sequence whatever its gap (a hint it does not use, which may exceed m + 1)."""
    q, m, c = np.nonzero(good)
    j = non_max_slots(q, m, c)
    return arrangement_count(good.shape[2] - 1, j, np.where(j > 0, m - gap[q, m, c] + 1, 1))
