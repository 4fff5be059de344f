"""Subcubic step E, direct path (SPEC 5.3): a query-independent ``mu`` and a slack ``dU`` with

    EUPU[q, y] - EUPU[q, m] <= (mu_y - mu_m) + dU[q]      for every q, y, m.

Knobs:

* ``max-diff-exact``: ``mu = 0``, ``dU[q] = range(EUPU[q, :])`` (exact table, V^2 d);
* ``global-max-diff-exact``: ``mu = 0``, ``dU[q] = max_q' range(EUPU[q', :])``;
* ``mean-query+max-diff``, ``svd-query+max-diff``, ``max-diff`` (O(V d), and one EUPU row of V d per
  all-max case their hint ``exact_rows`` sends to the exact table): with ``E~q = E + P_{n-1}``,
  ``c = b_U + b_O W_U`` and a real vector ``d0`` (the exact column mean of ``E~q``, the hint ``d0``, or 0),
  ``EUPU[q, y] = (E~q[q] - d0) . W_U[:, y] + mu_y`` with ``mu = d0 W_U + c``, hence
  ``EUPU[q, y] - EUPU[q, m] - (mu_y - mu_m) = sum_j (E~q[q, j] - d0_j)(W_U[j, y] - W_U[j, m])
  <= sum_j |E~q[q, j] - d0_j| range(W_U[j, :]) = dU[q]``.
"""

from __future__ import annotations

import numpy as np

from checker.kernel import Interval
from checker.schema import HINT, ArraySchema
from checker.tables import Tables

FACTORED_KNOBS = ("mean-query+max-diff", "svd-query+max-diff", "max-diff")
DIRECT_PATH_KNOBS = (*FACTORED_KNOBS, "max-diff-exact", "global-max-diff-exact")
EXACT_DIRECT_PATH = ("max-diff-exact", "global-max-diff-exact")


def direct_hint_schema(knob: str) -> dict[str, ArraySchema]:
    """The hint arrays a direct-path knob reads: ``d0`` [d] for ``svd-query+max-diff``; for every factored
    knob ``exact_rows`` [V], the max tokens whose all-max case is bounded through the exact row EUPU[m]
    (:func:`checker.strategies.subcubic_bounds.all_max_bounds`)."""
    if knob not in FACTORED_KNOBS:
        return {}
    rows = {"exact_rows": ArraySchema(("V",), "|b1", HINT)}
    return {"d0": ArraySchema(("d",), "<f8", HINT)} | rows if knob == "svd-query+max-diff" else rows


def direct_path(knob: str, tables: Tables, hints: dict[str, np.ndarray]) -> tuple[Interval, Interval]:
    """Enclosures of ``(mu, dU)`` [V], [V] (module docstring): use ``mu`` as an interval, ``dU.hi``."""
    weights = tables.weights
    vocab = weights.d_vocab
    if knob in EXACT_DIRECT_PATH:
        ranges = tables.eupu.row_range()
        if knob == "global-max-diff-exact":
            ranges = ranges.max(axis=0).broadcast_to((vocab,))
        return Interval.exact(np.zeros(vocab)), ranges
    if knob not in FACTORED_KNOBS:
        raise ValueError(f"unknown direct-path knob {knob!r}")
    queries = tables.query_side
    unembed = Interval.exact(weights.W_U)
    if knob == "mean-query+max-diff":
        d0 = queries.mean(axis=0)
    elif knob == "svd-query+max-diff":
        d0 = Interval.exact(np.asarray(hints["d0"], dtype=np.float64))
    else:
        d0 = Interval.exact(np.zeros(weights.d_model))
    constant = Interval.exact(weights.b_O[None, :]).matmul(unembed).reshape(-1) + Interval.exact(weights.b_U)
    mu = d0.reshape(1, -1).matmul(unembed).reshape(-1) + constant
    slack = (queries - d0.reshape(1, -1)).abs().matmul(unembed.row_range().reshape(-1, 1)).reshape(-1)
    return mu, slack
