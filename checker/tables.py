"""The five exact tables of SPEC section 1, each entry rounded once to a tight float64 interval.

With E = W_E, P = W_pos, s = sqrt(attn_scale_squared), query position n-1 and
Q(q) = (E_q + P_{n-1}) W_Q + b_Q:

* EQKE[q,k] = Q(q) . (E_k W_K) / s                      (V x V)
* EQKP[q,p] = Q(q) . (P_p W_K + b_K) / s                (V x n)
* EVOU[k,y] = (E_k W_V) W_O W_U                         (V x V)
* PVOU[p,y] = ((P_p W_V + b_V) W_O) W_U                 (n x V)
* EUPU[q,y] = (E_q + P_{n-1}) W_U + b_U + b_O W_U       (V x V)

so that, exactly, a_p = EQKE[q,x_p] + EQKP[q,p] and
logit_y = EUPU[q,y] + sum_p alpha_p (EVOU[x_p,y] + PVOU[p,y]).

Guarantee: every interval entry satisfies lo <= exact value <= hi with lo, hi equal or adjacent floats:
all products and sums are done in exact integer arithmetic (:mod:`checker.exact`) and the only rounding,
the division by s included, is the final one.

FLOPs charged (cost model v1, real arithmetic; V vocabulary, n positions, d model width, h head width):
E + P_{n-1}: V d; Q: V h (2d-1) + V h; E W_K: V h (2d-1); P W_K + b_K: n h (2d-1) + n h;
EQKE: V V (2h-1) + 1 + V V (square root of the scale, one division per entry);
EQKP: V n (2h-1) + 1 + V n; EVOU: V h (2d-1) + V d (2h-1) + V V (2d-1);
PVOU: n h (2d-1) + n h + n d (2h-1) + n V (2d-1);
EUPU: V V (2d-1) + V V + V (2d-1) + V V.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from checker.exact import ExactMatrix
from checker.interval import Interval

if TYPE_CHECKING:
    from certificates.model_file import ModelWeights


@dataclass(frozen=True)
class Tables:
    """Float64 enclosures of the five exact tables of a model (see the module docstring)."""

    eqke: Interval  # [V, V]
    eqkp: Interval  # [V, n]
    evou: Interval  # [V, V]
    pvou: Interval  # [n, V]
    eupu: Interval  # [V, V]


def compute_tables(weights: ModelWeights) -> Tables:
    """Each table entry computed exactly from the float32 weights and enclosed in [lo, hi]."""
    embed = ExactMatrix.from_float32(weights.W_E)
    positions = ExactMatrix.from_float32(weights.W_pos)
    w_q, w_k, w_v, w_o, w_u = (
        ExactMatrix.from_float32(w) for w in (weights.W_Q, weights.W_K, weights.W_V, weights.W_O, weights.W_U)
    )
    b_q, b_k, b_v, b_o, b_u = (
        ExactMatrix.from_float32(b).as_row()
        for b in (weights.b_Q, weights.b_K, weights.b_V, weights.b_O, weights.b_U)
    )
    scale_squared = weights.attn_scale_squared

    query_side = embed + positions[weights.n_ctx - 1 :]
    queries = query_side @ w_q + b_q
    key_tokens = embed @ w_k
    key_positions = positions @ w_k + b_k
    return Tables(
        eqke=(queries @ key_tokens.T).to_interval(scale_squared),
        eqkp=(queries @ key_positions.T).to_interval(scale_squared),
        evou=((embed @ w_v) @ w_o @ w_u).to_interval(),
        pvou=((positions @ w_v + b_v) @ w_o @ w_u).to_interval(),
        eupu=(query_side @ w_u + b_u + b_o @ w_u).to_interval(),
    )
