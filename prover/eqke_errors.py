"""The paper's EQKE error-term table for one model: four rigorous bounds on the subproduct remainder.

Each row is an upper bound, maximised over the query rows, of the row range (max row diff)
``max_{i,j} (Err[q,i] - Err[q,j])`` that the subcubic proofs need (SPEC 5.3 step B), computed with the
checker's interval functions, with the FLOPs its computation is charged (cost model v1; the exact
factors of the decomposition included, the shared exact tables not):

1. exact max row diff: Err = m0 m1 m2 m3, the remainder of the subproduct decomposition (SPEC 5.3 step A),
   formed in full (V^2 d);
2. 2 max|Err|: the same Err, bounded through its largest entry;
3. max row diff on the subproduct: the same Err, bounded at the best split point (V d^2);
4. recursive max row diff: the same Err, bounded factor by factor (V d).

All four bound the same matrix, as in the paper (its ``EQKE_err`` of ``display_EQKE_SVD_analysis``, the
product of the four remainder factors; run on our seed-123 model the paper's code at commit fb5b181 gives
1.942, 2.081, 5.515 and 97.36 in raw units (float32), and this table 1.944, 2.084, 5.51 and 97.4; with
``q2`` taken from ``E~q`` alone, as the paper's code does, instead of ``[E~q | 1]``, it gives the paper's
values to four digits, so that hint is the whole difference). Rows 1
and 2 are not the error of the ``attn-err=max-diff-exact`` strategy, which bounds the remainder of the
rank-one SVD decomposition instead.

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
from checker.kernel import Interval, flops
from checker.strategies.subcubic_eqke import Subproduct, qk_factors, subproduct_decomposition, subproduct_error_bounds
from checker.tables import Tables
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


def _subproduct_parts(weights: ModelWeights, device: torch.device) -> tuple[Subproduct, Interval]:
    """The subproduct decomposition with the prover's hint directions, and the enclosure of ``1 / (s n)``."""
    factors = qk_factors(Tables(weights))
    _, parts = subproduct_decomposition(factors, eqke_hints(weights, "max-diff-subproduct", device))
    return parts, factors.unscale


def _formed_remainder(weights: ModelWeights, device: torch.device) -> Interval:
    """Enclosure of ``Err = m0 m1 m2 m3`` (true units), formed in full."""
    parts, unscale = _subproduct_parts(weights, device)
    m0, m1, m2, m3 = parts.m
    return m0.matmul(m1).matmul(m2).matmul(m3) * unscale


def _subproduct_bound(weights: ModelWeights, knob: str, device: torch.device) -> float:
    parts, unscale = _subproduct_parts(weights, device)
    return float((subproduct_error_bounds(knob, parts) * unscale).hi.max())


def eqke_error_rows(weights: ModelWeights, device: torch.device) -> list[ErrorRow]:
    """The four rows of the table (module docstring), in the paper's order."""
    computations = {
        "exact max row diff": lambda: float(_formed_remainder(weights, device).row_range().hi.max()),
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
