"""Subcubic step E, direct path (SPEC 5.3): a query-independent ``mu`` and a slack ``dU`` with

    EUPU[q, y] - EUPU[q, m] <= (mu_y - mu_m) + dU[q]      for every q, y, m.

Knobs:

* ``max-diff-exact``: ``mu = 0``, ``dU[q] = range(EUPU[q, :])`` (exact table, V^2 d);
* ``global-max-diff-exact``: ``mu = 0``, ``dU[q] = max_q' range(EUPU[q', :])``;
* ``mean-query+max-diff``, ``svd-query+max-diff``, ``max-diff`` (O(V d)): with ``E~q = E + P_{n-1}``,
  ``c = b_U + b_O W_U`` and a real vector ``d0`` (the exact column mean of ``E~q``, the hint ``d0``, or 0),
  ``EUPU[q, y] = (E~q[q] - d0) . W_U[:, y] + mu_y`` with ``mu = d0 W_U + c``, hence
  ``EUPU[q, y] - EUPU[q, m] - (mu_y - mu_m) = sum_j (E~q[q, j] - d0_j)(W_U[j, y] - W_U[j, m])
  <= sum_j |E~q[q, j] - d0_j| range(W_U[j, :]) = dU[q]``.
"""

from __future__ import annotations

import numpy as np

from certificates.model_file import ModelWeights
from checker.interval import Interval
from checker.strategies.subcubic_eqke import query_side, row_range
from checker.tables import Tables

FACTORED_KNOBS = ("mean-query+max-diff", "svd-query+max-diff", "max-diff")
DIRECT_PATH_KNOBS = (*FACTORED_KNOBS, "max-diff-exact", "global-max-diff-exact")
EXACT_DIRECT_PATH = ("max-diff-exact", "global-max-diff-exact")


def direct_hint_shapes(knob: str, d_model: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """The hint arrays a direct-path knob reads: ``d0`` [d] for ``svd-query+max-diff``."""
    return {"d0": ((d_model,), "<f8")} if knob == "svd-query+max-diff" else {}


def direct_path(
    knob: str, weights: ModelWeights, tables: Tables, hints: dict[str, np.ndarray]
) -> tuple[Interval, Interval]:
    """Enclosures of ``(mu, dU)`` [V], [V] (module docstring): use ``mu`` as an interval, ``dU.hi``."""
    vocab = weights.d_vocab
    if knob in EXACT_DIRECT_PATH:
        ranges = row_range(tables.eupu)
        if knob == "global-max-diff-exact":
            ranges = ranges.max(axis=0).broadcast_to((vocab,))
        return Interval.exact(np.zeros(vocab)), ranges
    if knob not in FACTORED_KNOBS:
        raise ValueError(f"unknown direct-path knob {knob!r}")
    queries = query_side(weights)
    unembed = Interval.exact(weights.W_U)
    if knob == "mean-query+max-diff":
        d0 = queries.mean(axis=0)
    elif knob == "svd-query+max-diff":
        d0 = Interval.exact(np.asarray(hints["d0"], dtype=np.float64))
    else:
        d0 = Interval.exact(np.zeros(weights.d_model))
    constant = Interval.exact(weights.b_O[None, :]).matmul(unembed).reshape(-1) + Interval.exact(weights.b_U)
    mu = d0.reshape(1, -1).matmul(unembed).reshape(-1) + constant
    slack = (queries - d0.reshape(1, -1)).abs().matmul(row_range(unembed).reshape(-1, 1)).reshape(-1)
    return mu, slack
