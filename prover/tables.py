"""The five path tables of SPEC section 1, computed in torch on the prover's device.

These are the prover's (untrusted, floating-point) counterparts of :class:`checker.tables.Tables`:
same names, same definitions, every bias folded in, the attention scale ``s`` inside the QK tables.
With ``E = W_E``, ``P = W_pos``, query position ``n-1`` and ``Q(q) = (E_q + P_{n-1}) W_Q + b_Q``:

* ``eqke[q, k] = Q(q) . (E_k W_K) / s``                 [V, V]
* ``eqkp[q, p] = Q(q) . (P_p W_K + b_K) / s``            [V, n]
* ``evou[k, y] = (E_k W_V) W_O W_U``                     [V, V]
* ``pvou[p, y] = ((P_p W_V + b_V) W_O) W_U``             [n, V]
* ``eupu[q, y] = (E_q + P_{n-1}) W_U + b_U + b_O W_U``   [V, V]

so that, for a sequence x with query token q = x_{n-1}, the score of position p is
``eqke[q, x_p] + eqkp[q, p]`` and ``logit_y = eupu[q, y] + sum_p alpha_p (evou[x_p, y] + pvou[p, y])``.
In float64 each entry is within a few units of 1e-16 (relative to the magnitudes of its summands) of
the exact value; strategies that claim bounds leave a margin far wider than that.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from certificates.model_file import ModelWeights

TABLE_NAMES = ("eqke", "eqkp", "evou", "pvou", "eupu")


def torch_tables(
    weights: ModelWeights, device: torch.device, dtype: torch.dtype = torch.float64
) -> dict[str, torch.Tensor]:
    """The tables ``eqke, eqkp, evou, pvou, eupu`` (see the module docstring) as ``dtype`` tensors."""

    def tensor(name: str) -> torch.Tensor:
        return torch.tensor(np.asarray(getattr(weights, name), dtype=np.float32), device=device, dtype=dtype)

    embed, pos = tensor("W_E"), tensor("W_pos")
    w_q, w_k, w_v, w_o, w_u = (tensor(name) for name in ("W_Q", "W_K", "W_V", "W_O", "W_U"))
    b_q, b_k, b_v, b_o, b_u = (tensor(name) for name in ("b_Q", "b_K", "b_V", "b_O", "b_U"))
    scale = math.sqrt(weights.attn_scale_squared)

    query_resid = embed + pos[-1]
    queries = (query_resid @ w_q + b_q) / scale
    return {
        "eqke": queries @ (embed @ w_k).T,
        "eqkp": queries @ (pos @ w_k + b_k).T,
        "evou": ((embed @ w_v) @ w_o) @ w_u,
        "pvou": ((pos @ w_v + b_v) @ w_o) @ w_u,
        "eupu": query_resid @ w_u + b_u + b_o @ w_u,
    }
