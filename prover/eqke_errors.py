"""The paper's EQKE error-term table for one model: four rigorous bounds on the rank-one remainder.

Each row is an upper bound, maximised over the query rows, of the row range (max row diff)
``max_{i,j} (Err[q,i] - Err[q,j])`` that the subcubic proofs need (SPEC 5.3 step B), computed with the
checker's interval functions, with the FLOPs its computation is charged (cost model v1; the exact
factors of the decomposition included, the shared exact tables not):

1. exact max row diff: Err = EQKE' - Ehat of the rank-one SVD decomposition, formed in full (V^2 d);
2. 2 max|Err|: the same Err, bounded through its largest entry;
3. max row diff on the subproduct: Err = m0 m1 m2 m3 of the subproduct decomposition, best split (V d^2);
4. recursive max row diff: the same Err, bounded factor by factor (V d).

The decompositions' directions come from the prover's search (:mod:`prover.subcubic_search`).

Units. The checker's tables carry the attention scale: ``EQKE[q,k] = Q(q) . K(k) / s`` with
``s = sqrt(d_head)`` (or the file's scale). The paper's EQKE error figures are in raw units, before the
division by ``s``. Each row keeps both: ``bound`` in the checker's units and ``raw_bound = s * bound`` in
the paper's (a float product, for display only: neither is used in a proof).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from certificates.model_file import ModelWeights
from checker import flops
from checker.interval import Interval
from checker.strategies.subcubic_eqke import (
    qk_factors,
    row_range,
    subproduct_decomposition,
    subproduct_error_bounds,
    svd_decomposition,
)
from prover.subcubic_search import eqke_hints

PAPER_EXAMPLE = {
    "exact max row diff": "~1.8",
    "2 max|Err|": "~2.0",
    "max row diff on the subproduct": "~5.7",
    "recursive max row diff": "~97",
}


@dataclass(frozen=True)
class ErrorRow:
    """One row of the table: an upper bound of ``max_q`` (row range of Err) and its cost.

    ``bound`` is in the checker's units (scores divided by the attention scale ``s``), ``raw_bound`` in the
    paper's units (``s * bound``); ``paper`` is the paper's value for its own seed-123 model, raw units.
    """

    label: str
    bound: float
    raw_bound: float
    flops: int
    paper: str


def _formed_remainder(weights: ModelWeights, device: torch.device) -> Interval:
    """Enclosure of ``Err = EQKE' - Ehat`` (true units) of the rank-one SVD decomposition, formed in full."""
    factors = qk_factors(weights)
    ehat, _ = svd_decomposition(factors, eqke_hints(weights, "svd", device))
    product = factors.x0.matmul(factors.x1).matmul(factors.x2).matmul(factors.x3)
    return product * factors.unscale - ehat


def _subproduct_bound(weights: ModelWeights, knob: str, device: torch.device) -> float:
    factors = qk_factors(weights)
    _, parts = subproduct_decomposition(factors, eqke_hints(weights, knob, device))
    return float((subproduct_error_bounds(knob, parts) * factors.unscale).hi.max())


def eqke_error_rows(weights: ModelWeights, device: torch.device) -> list[ErrorRow]:
    """The four rows of the table (module docstring), in the paper's order."""
    computations = {
        "exact max row diff": lambda: float(row_range(_formed_remainder(weights, device)).hi.max()),
        "2 max|Err|": lambda: 2.0 * float(_formed_remainder(weights, device).abs().hi.max()),
        "max row diff on the subproduct": lambda: _subproduct_bound(weights, "max-diff-subproduct", device),
        "recursive max row diff": lambda: _subproduct_bound(weights, "max-diff-subproduct-recursive", device),
    }
    scale = math.sqrt(weights.attn_scale_squared)
    rows = []
    for label, compute in computations.items():
        with flops.counting() as counter:
            value = compute()
        rows.append(ErrorRow(
            label=label, bound=value, raw_bound=value * scale, flops=counter.flops, paper=PAPER_EXAMPLE[label]
        ))
    return rows


def format_rows(rows: list[ErrorRow]) -> str:
    """The table as text: label, the bound in the paper's raw units and in the checker's units (divided by
    the attention scale), FLOPs, and the paper's value for its own seed-123 model (raw units)."""
    lines = [
        f"{'EQKE error term':<32} {'raw units':>10} {'/ scale':>10} {'FLOPs':>10}  paper (its seed 123, raw units)"
    ]
    lines += [
        f"{row.label:<32} {row.raw_bound:>10.4g} {row.bound:>10.4g} {row.flops:>10.3g}  {row.paper}" for row in rows
    ]
    return "\n".join(lines)
