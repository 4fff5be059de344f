"""Subcubic family (SPEC 5.3) on the prover side: 100 registered strategies, one certificate each.

Every strategy searches its hints and gaps with :mod:`prover.subcubic_search` and writes the trace that
:mod:`checker.strategies.subcubic` replays. The checker-side quantities shared by the configurations of
one model (the exact tables, the positional ordering, the hint directions, the EQKE decompositions
and the attention claims of every candidate case) are cached for the most recent model, so proving the
whole family computes them once per attention-error knob.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from certificates.codec import TraceStep
from certificates.model_file import ModelWeights
from checker.interval import Interval
from checker.strategies.cubic import ORDER_STEP
from checker.strategies.subcubic import (
    ATTENTION_STEP,
    AVERAGE_STEP,
    BOUND_STEP,
    DIRECT_HINT_STEP,
    EPS_STEP,
    EQKE_HINT_STEP,
    GAP_STEP,
    NAMES,
    complexity,
    family,
    parse_name,
)
from checker.strategies.subcubic_bounds import covered_count, logit_terms
from checker.strategies.subcubic_direct import direct_path
from checker.strategies.subcubic_eqke import eqke_decomposition
from checker.tables import Tables, compute_tables
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register
from prover.strategies.cubic import positional_order
from prover.subcubic_search import (
    ClaimInputs,
    candidate_attention,
    direct_hints,
    eqke_hints,
    round_up32,
    search_claims,
)
from prover.tables import torch_tables

_cache: dict[object, object] = {}


def _cached(weights: ModelWeights, key: tuple, compute):
    """``compute()`` memoised per model (the cache holds one model: a new digest clears it)."""
    if _cache.get("digest") != weights.digest:
        _cache.clear()
        _cache["digest"] = weights.digest
    if key not in _cache:
        _cache[key] = compute()
    return _cache[key]


def _tables(weights: ModelWeights) -> Tables:
    return _cached(weights, ("tables",), lambda: compute_tables(weights))


def _eqke(weights: ModelWeights, knob: str, device: torch.device) -> tuple[dict, np.ndarray, Interval]:
    """Hints, float32 eps claims and Ehat of an attention-error knob."""

    def compute() -> tuple[dict, np.ndarray, Interval]:
        hints = eqke_hints(weights, knob, device)
        ehat, eps = eqke_decomposition(knob, weights, _tables(weights), hints)
        claimed = round_up32(eps.hi)
        if not np.isfinite(claimed).all():
            raise ValueError(f"the EQKE error bounds of knob {knob!r} exceed the float32 range")
        return hints, claimed.astype("<f4"), ehat

    return _cached(weights, ("eqke", knob), compute)


def prove_subcubic(name: str, proof_input: ProofInput) -> ProofOutput:
    direct, attention, attention_error = parse_name(name)
    weights, device = proof_input.weights, proof_input.device
    if weights.d_vocab < 2 or weights.n_ctx < 2:
        raise ValueError("the subcubic strategies need d_vocab >= 2 and n_ctx >= 2")
    tables = _tables(weights)
    order = _cached(
        weights, ("order",), lambda: positional_order(torch_tables(weights, device)["eqkp"]).cpu().numpy().astype("<i4")
    )
    hints, eps, ehat = _eqke(weights, attention_error, device)
    d_hints = direct_hints(weights, direct, device)
    mu, slack = direct_path(direct, weights, tables, d_hints)
    inputs = ClaimInputs(
        tables=tables, ehat=ehat, eps=eps.astype(np.float64), order=order, terms=logit_terms(tables, mu), slack=slack
    )
    candidates = _cached(weights, ("attention", attention_error), lambda: candidate_attention(inputs))
    claims = search_claims(inputs, candidates, mean_query=attention == "mean-query+diff")
    trace = [
        TraceStep(ORDER_STEP, {"order": order}),
        TraceStep(EQKE_HINT_STEP, hints),
        TraceStep(DIRECT_HINT_STEP, d_hints),
        TraceStep(EPS_STEP, {"eps": eps}),
        TraceStep(GAP_STEP, {"gap": claims.gap, "good": claims.good}),
        TraceStep(ATTENTION_STEP, {"alpha_lo": claims.alpha_lo, "alpha_hi": claims.alpha_hi}),
    ]
    if claims.average is not None:
        trace.append(TraceStep(AVERAGE_STEP, {"abar": claims.average}))
    trace.append(TraceStep(BOUND_STEP, {"bound": claims.bound}))
    return ProofOutput(
        claim_correct=covered_count(claims.good, claims.gap),
        trace=trace,
        params={"EUPU": direct, "attn": attention, "attn-err": attention_error},
    )


for _name in NAMES:
    _direct, _, _error = parse_name(_name)
    register(
        StrategyInfo(
            name=_name, family=family(_direct, _error), complexity=complexity(_direct, _error),
            prove=partial(prove_subcubic, _name),
        )
    )
