"""Subcubic family (SPEC 5.3) on the prover side: 100 registered strategies, one certificate each.

Every strategy searches its hints and gaps with :mod:`prover.subcubic_search` and writes the trace that
:mod:`checker.strategies.subcubic` replays. The checker-side quantities shared by the configurations of
one model (the exact tables, the positional ordering, the hint directions, the EQKE decompositions
and, up to ``KEPT_CASES`` candidates, the attention claims of every candidate case) are cached for the
most recent model, so proving the whole family computes them once per attention-error knob.

Families (the paper's table groups; "exact direct path" = the knobs that use the whole EUPU table):

=========================================================  ===============================================  ======
family                                                     attn-err knobs / EUPU knobs                      count
=========================================================  ===============================================  ======
subcubic                                                   exact, max-diff-exact / max-diff-exact,              8
                                                           global-max-diff-exact
attention-d_vocab d_model^2                                svd, max-diff, mean+max-diff, max-diff-subproduct,  20
                                                           mean+max-diff-subproduct / the 2 exact EUPU knobs
attention-quadratic                                        the 3 ``*-recursive`` knobs / the 2 exact EUPU      12
direct-quadratic                                           exact, max-diff-exact / mean-query+max-diff,       12
                                                           svd-query+max-diff, max-diff
attention-d_vocab d_model^2 + direct-quadratic             the 5 d_vocab d_model^2 knobs / the 3 quadratic    30
attention-quadratic + direct-quadratic                     the 3 recursive knobs / the 3 quadratic            18
=========================================================  ===============================================  ======

(each with both attention knobs, ``drop-average-query`` and ``mean-query+diff``).

Complexity classes (:func:`complexity`) name every term a replay pays under cost model v2, the exact
tables it reads included: ``V^2 d`` for EVOU (every member), ``V^2 h`` for EQKE (the exact attention
errors), ``V d h`` for the d_vocab d_model^2 decompositions, ``V d`` for the recursive ones, ``V^2 d`` for
EUPU with the exact direct paths and ``V d + r V d`` with the factored ones (``r`` <= V exact rows, for the
all-max cases their factored bound cannot prove), ``V d n`` for EQKP and ``V^2 n^2`` for the case bounds.
Every member pays ``V^2 d`` for EVOU, so the classes separate in their other terms: in FLOPs at larger V
(``bench/flops_per_family.py``), not in the leading order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from certificates.model_file import ModelWeights
from checker.kernel import Interval
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
    parse_name,
)
from checker.strategies.subcubic_bounds import covered_count, logit_terms
from checker.strategies.subcubic_direct import EXACT_DIRECT_PATH, direct_path
from checker.strategies.subcubic_eqke import SUBPRODUCT_DECOMPOSITION, eqke_decomposition
from checker.tables import Tables
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register
from prover.strategies.cubic import positional_order
from prover.subcubic_search import (
    CandidateAttention,
    ClaimInputs,
    direct_hints,
    eqke_hints,
    exact_rows_hint,
    round_up32,
    search_claims,
)
from prover.tables import torch_tables

RECURSIVE = tuple(knob for knob in SUBPRODUCT_DECOMPOSITION if knob.endswith("recursive"))
EXACT_ATTENTION_ERROR = ("exact", "max-diff-exact")


def family(direct: str, attention_error: str) -> str:
    """The paper's table group of a knob combination (module docstring)."""
    if attention_error in EXACT_ATTENTION_ERROR:
        attention_group = ""
    elif attention_error in RECURSIVE:
        attention_group = "attention-quadratic"
    else:
        attention_group = "attention-d_vocab d_model^2"
    direct_group = "" if direct in EXACT_DIRECT_PATH else "direct-quadratic"
    return " + ".join(part for part in (attention_group, direct_group) if part) or "subcubic"


def complexity(direct: str, attention_error: str) -> str:
    """The asymptotic cost of the replay, every term it pays (module docstring)."""
    if attention_error in EXACT_ATTENTION_ERROR:
        attention_part = "V^2 h"
    elif attention_error in RECURSIVE:
        attention_part = "V d"
    else:
        attention_part = "V d h"
    direct_part = "V^2 d" if direct in EXACT_DIRECT_PATH else "V d + r V d"
    return f"O(V^2 d [EVOU] + {attention_part} [EQKE] + {direct_part} [EUPU] + V d n [EQKP] + V^2 n^2)"


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
    return _cached(weights, ("tables",), lambda: Tables(weights))


def _eqke(weights: ModelWeights, knob: str, device: torch.device) -> tuple[dict, np.ndarray, Interval]:
    """Hints, float32 eps claims and Ehat of an attention-error knob."""

    def compute() -> tuple[dict, np.ndarray, Interval]:
        hints = eqke_hints(weights, knob, device)
        ehat, eps = eqke_decomposition(knob, _tables(weights), hints)
        claimed = round_up32(eps.hi)
        if not np.isfinite(claimed).all():
            raise ValueError(f"the EQKE error bounds of knob {knob!r} exceed the float32 range")
        return hints, claimed.astype("<f4"), ehat

    return _cached(weights, ("eqke", knob), compute)


@dataclass(frozen=True)
class SearchSetup:
    """One configuration's hints (trace arrays) and the checker-side inputs of its claims."""

    order: np.ndarray
    eqke_hints: dict[str, np.ndarray]
    eps: np.ndarray
    direct_hints: dict[str, np.ndarray]
    inputs: ClaimInputs
    candidates: CandidateAttention


def search_setup(weights: ModelWeights, direct: str, attention_error: str, device: torch.device) -> SearchSetup:
    """The hints of a configuration and its claim inputs, from the model's cache where shared."""
    if weights.d_vocab < 2 or weights.n_ctx < 2:
        raise ValueError("the subcubic strategies need d_vocab >= 2 and n_ctx >= 2")
    tables = _tables(weights)
    order = _cached(
        weights, ("order",), lambda: positional_order(torch_tables(weights, device)["eqkp"]).cpu().numpy().astype("<i4")
    )
    hints, eps, ehat = _eqke(weights, attention_error, device)
    d_hints = direct_hints(weights, direct, device)
    mu, slack = direct_path(direct, tables, d_hints)
    terms = logit_terms(tables, mu)
    if direct not in EXACT_DIRECT_PATH:
        d_hints["exact_rows"] = exact_rows_hint(tables, terms, slack)
    inputs = ClaimInputs(
        tables=tables, ehat=ehat, eps=eps.astype(np.float64), order=order, terms=terms, slack=slack,
        exact_rows=d_hints.get("exact_rows"),
    )
    candidates = _cached(weights, ("attention", attention_error), lambda: CandidateAttention(inputs))
    return SearchSetup(order, hints, eps, d_hints, inputs, candidates)


def prove_subcubic(name: str, proof_input: ProofInput) -> ProofOutput:
    direct, attention, attention_error = parse_name(name)
    setup = search_setup(proof_input.weights, direct, attention_error, proof_input.device)
    claims = search_claims(setup.inputs, setup.candidates, mean_query=attention == "mean-query+diff")
    trace = {
        ORDER_STEP: {"order": setup.order},
        EQKE_HINT_STEP: setup.eqke_hints,
        DIRECT_HINT_STEP: setup.direct_hints,
        EPS_STEP: {"eps": setup.eps},
        GAP_STEP: {"gap": claims.gap, "good": claims.good},
        ATTENTION_STEP: {"alpha_lo": claims.alpha_lo, "alpha_hi": claims.alpha_hi},
    }
    if claims.average is not None:
        trace[AVERAGE_STEP] = {"abar": claims.average}
    trace[BOUND_STEP] = {"bound": claims.bound}
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
