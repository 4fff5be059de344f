"""The exact tables of SPEC section 1, computed on demand, each entry rounded once to a tight interval.

With E = W_E, P = W_pos, s = sqrt(attn_scale_squared), query position n-1 and
Q(q) = (E_q + P_{n-1}) W_Q + b_Q:

* EQKE[q,k] = Q(q) . (E_k W_K) / s                      (V x V)
* EQKP[q,p] = Q(q) . (P_p W_K + b_K) / s                (V x n)
* EVOU[k,y] = (E_k W_V) W_O W_U                         (V x V)
* PVOU[p,y] = ((P_p W_V + b_V) W_O) W_U                 (n x V)
* EUPU[q,y] = (E_q + P_{n-1}) W_U + b_U + b_O W_U       (V x V, computed and charged row by row)

so that, exactly, a_p = EQKE[q,x_p] + EQKP[q,p] and
logit_y = EUPU[q,y] + sum_p alpha_p (EVOU[x_p,y] + PVOU[p,y]). Two partial products serve the subcubic
decompositions: ``query_side`` = E + P_{n-1} (V x d) and ``key_side`` = n E + sum_p P_p (V x d).

Guarantee: every interval entry satisfies lo <= exact value <= hi with lo, hi equal or adjacent floats:
all products and sums are done in exact integer arithmetic (:mod:`checker.kernel.exact`) and the only
rounding, the division by s included, is the final one.

Cost (cost model v2): a replay is charged for what it reads, once, with the partial products it needs
(:mod:`checker.kernel.shared`); V vocabulary, n positions, d model width, h head width:
E + P_{n-1}: V d; Q: V h (2d-1) + V h; E W_K: V h (2d-1); P W_K + b_K: n h (2d-1) + n h;
EQKE: V V (2h-1) + 1 + V V (the square root of the scale and one division per entry, none for a scale
of 1); W_Q (P W_K + b_K)^T: d n (2h-1); b_Q (P W_K + b_K)^T: n (2h-1); EQKP, always as
(E + P_{n-1}) W_Q (P W_K + b_K)^T + b_Q (P W_K + b_K)^T: V n (2d-1) + V n + 1 + V n (much cheaper than
through Q, which only EQKE needs; when both are read, a few thousand FLOPs dearer); E W_V: V h (2d-1);
EVOU: V d (2h-1) + V V (2d-1); PVOU: n h (2d-1) + n h + n d (2h-1) + n V (2d-1); b_U + b_O W_U:
V (2d-1) + V; each EUPU row: V (2d-1) + V; n E + sum_p P_p: V d + (n-1) d + V d.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from checker.kernel import ExactMatrix, Interval
from checker.kernel.shared import Recipe, SharedResults

if TYPE_CHECKING:
    from certificates.model_file import ModelWeights

_WEIGHT_NAMES = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U")
_BIAS_NAMES = ("b_Q", "b_K", "b_V", "b_O", "b_U")


class Tables:
    """The exact tables of one model, each computed the first time a replay reads it (module docstring).

    One object serves any number of replays of the same model: values are computed once, and each
    replay's counter is charged for what it reads, as if it had computed it alone.
    """

    def __init__(self, weights: ModelWeights) -> None:
        self.weights = weights
        self._results = SharedResults(self._recipe)

    @property
    def eqke(self) -> Interval:
        return self._results.read("eqke")

    @property
    def eqkp(self) -> Interval:
        return self._results.read("eqkp")

    @property
    def evou(self) -> Interval:
        return self._results.read("evou")

    @property
    def pvou(self) -> Interval:
        return self._results.read("pvou")

    @property
    def eupu(self) -> Interval:
        return self.eupu_rows(np.arange(self.weights.d_vocab))

    def eupu_rows(self, rows: np.ndarray) -> Interval:
        """EUPU[rows, :] ([len(rows), V]), charged per distinct row read."""
        vocab = self.weights.d_vocab
        parts = [self._results.read(("eupu", int(row))) for row in rows]
        return Interval.stack(parts) if parts else Interval.exact(np.zeros((0, vocab)))

    @property
    def query_side(self) -> Interval:
        """E + P_{n-1} (V x d), rounded once."""
        return self._results.read("query_side_interval")

    @property
    def key_side(self) -> Interval:
        """n E + sum_p P_p (V x d), rounded once."""
        return self._results.read("key_side_interval")

    def _recipe(self, name: Hashable) -> Recipe:
        weights, n_ctx = self.weights, self.weights.n_ctx
        scale = weights.attn_scale_squared
        if name in _WEIGHT_NAMES:
            return Recipe((), lambda: ExactMatrix.from_float32(getattr(weights, name)).read_only())
        if name in _BIAS_NAMES:
            return Recipe((), lambda: ExactMatrix.from_float32(getattr(weights, name)).as_row().read_only())
        if isinstance(name, tuple):  # ("eupu", row)
            row = name[1]
            row_inputs = ("query_side", "W_U", "output_bias")
            return Recipe(row_inputs, lambda e, u, b: (e[row : row + 1] @ u + b).to_interval()[0].read_only())
        recipes: dict[Hashable, tuple[tuple[str, ...], Callable[..., Any]]] = {
            "query_side": (("W_E", "W_pos"), lambda e, p: e + p[n_ctx - 1 :]),
            "queries": (("query_side", "W_Q", "b_Q"), lambda e, w, b: e @ w + b),
            "key_tokens": (("W_E", "W_K"), lambda e, w: e @ w),
            "key_positions": (("W_pos", "W_K", "b_K"), lambda p, w, b: p @ w + b),
            "eqke": (("queries", "key_tokens"), lambda q, k: (q @ k.T).to_interval(scale)),
            "query_positions": (("W_Q", "key_positions"), lambda w, k: w @ k.T),
            "bias_positions": (("b_Q", "key_positions"), lambda b, k: b @ k.T),
            "eqkp": (
                ("query_side", "query_positions", "bias_positions"),
                lambda e, w, b: (e @ w + b).to_interval(scale),
            ),
            "value_tokens": (("W_E", "W_V"), lambda e, w: e @ w),
            "evou": (("value_tokens", "W_O", "W_U"), lambda v, o, u: (v @ o @ u).to_interval()),
            "pvou": (("W_pos", "W_V", "b_V", "W_O", "W_U"), lambda p, v, b, o, u: ((p @ v + b) @ o @ u).to_interval()),
            "output_bias": (("b_U", "b_O", "W_U"), lambda b, o, u: b + o @ u),
            "query_side_interval": (("query_side",), lambda e: e.to_interval()),
            "key_side_interval": (("W_E", "W_pos"), lambda e, p: (e.times(n_ctx) + p.column_sums()).to_interval()),
        }
        inputs, compute = recipes[name]
        return Recipe(inputs, lambda *values: compute(*values).read_only())
