"""Cubic (SPEC 5.2) on the prover side: every case bound B(q, m, k, c) at once, in float64 torch.

The formulas are those of :mod:`checker.strategies.cubic_bounds` (read its docstring), evaluated on the whole
case grid ``[q, m, k, c]`` by broadcasting. A case is claimed good when its bound, raised by
``CLAIM_MARGIN`` times the scale of the logit tables and then rounded up to float32, is negative and the
checker's own enclosure of the claimed cases (:func:`checkable`) accepts it. Float64 evaluation is within
about 1e-13 of the exact bound, far inside the margin, so that filter drops nothing on ordinary models; the
cases given up are those with ``-margin <= B < 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from certificates.model_file import ModelWeights
from checker.kernel import Interval
from checker.schema import Trace
from checker.strategies import cubic_bounds as checker_bounds
from checker.strategies.cubic import BOUND_STEP, NAME, ORDER_STEP, cubic_coefficient
from checker.tables import Tables
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register
from prover.tables import torch_tables

CLAIM_MARGIN = 2.0**-30


@dataclass(frozen=True)
class LogitPaths:
    """Logit tables centred on the max token m (``y = m`` entries are 0 and excluded from maxima):
    ``pi[m, y]``, ``eupu[q, m, y]``, ``evou[t, m, y]``, ``u[q, m]``, ``h[t, m]`` as in
    :class:`checker.strategies.cubic_bounds.LogitPaths`."""

    pi: torch.Tensor
    eupu: torch.Tensor
    evou: torch.Tensor
    u: torch.Tensor
    h: torch.Tensor

    @property
    def wrong(self) -> torch.Tensor:
        """[m, y]: True where ``y != m``."""
        return ~torch.eye(self.pi.shape[0], dtype=torch.bool, device=self.pi.device)


def logit_paths(tables: dict[str, torch.Tensor]) -> LogitPaths:
    """The centred logit tables of SPEC 5.2 for every max token (O(V^3))."""
    pvou, evou, eupu = tables["pvou"], tables["evou"], tables["eupu"]
    right = torch.eye(evou.shape[0], dtype=torch.bool, device=evou.device)
    pi = (pvou[:, None, :] - pvou[:, :, None]).amax(dim=0)
    eupu_c = eupu[:, None, :] - eupu[:, :, None]
    evou_c = evou[:, None, :] - evou[:, :, None]
    u = eupu_c.masked_fill(right, -torch.inf).amax(dim=2)
    h = (evou_c + pi).masked_fill(right, -torch.inf).amax(dim=2)
    return LogitPaths(pi=pi, eupu=eupu_c, evou=evou_c, u=u, h=h)


def positional_order(eqkp: torch.Tensor) -> torch.Tensor:
    """[V, n-1]: per query, the non-query positions sorted by ascending positional score."""
    return torch.argsort(eqkp[:, :-1], dim=1, stable=True)


def extreme_shares(
    tables: dict[str, torch.Tensor], order: torch.Tensor
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """For configurations lo and hi: the shares (max, other, query), each [q, m, k, c], of the case grid
    (:func:`checker.strategies.attention.extreme_attention`; ``k`` is the other token, ``c`` its copy count)."""
    eqke, eqkp = tables["eqke"], tables["eqkp"]
    vocab, n_ctx = eqkp.shape
    slots = n_ctx - 1
    tokens = torch.arange(vocab, device=eqke.device)
    positions = eqkp[:, :slots].gather(1, order)
    position_shift = positions.amax(dim=1) if slots else torch.zeros_like(eqkp[:, 0])
    token_shift = eqke.amax(dim=1)
    token = torch.exp(eqke - token_shift[:, None])
    position = torch.exp(positions - position_shift[:, None])
    query = torch.exp(eqke[tokens, tokens] + eqkp[:, slots] - token_shift - position_shift)
    zero = torch.zeros_like(position[:, :1])
    smallest = torch.cat([zero, position.cumsum(dim=1)], dim=1)  # [q, M]: the M smallest
    largest = torch.cat([zero, position.flip(1).cumsum(dim=1)], dim=1)  # [q, M]: the M largest
    copies = torch.arange(n_ctx, device=eqke.device)
    configurations = []
    for max_sums, other_sums in ((smallest, largest), (largest, smallest)):
        on_max = token[:, :, None, None] * max_sums[:, slots - copies][:, None, None, :]
        on_other = token[:, None, :, None] * other_sums[:, copies][:, None, None, :]
        on_query = query[:, None, None, None]
        total = on_max + on_other + on_query
        configurations.append((on_max / total, on_other / total, on_query / total))
    return configurations


@dataclass(frozen=True)
class CaseGrid:
    """The parts of the case bounds of one model that do not depend on the non-max coefficient.

    Per configuration (lo, hi), the case bound for ``c >= 1`` is ``fixed + other * coef[k, m, c]`` with
    ``fixed = u[q, m] + A_max h[m, m] + A_q h[q, m]`` and ``other = A_k`` [q, m, k, c]; ``zero_copies[q, m]``
    is the bound of the case ``(q, m, m, 0)``.
    """

    tables: dict[str, torch.Tensor]
    order: torch.Tensor
    paths: LogitPaths
    configurations: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    fixed: list[torch.Tensor]
    zero_copies: torch.Tensor
    valid: torch.Tensor

    @staticmethod
    def build(tables: dict[str, torch.Tensor]) -> CaseGrid:
        eqkp = tables["eqkp"]
        vocab, n_ctx = eqkp.shape
        order = positional_order(eqkp)
        paths = logit_paths(tables)
        configurations = extreme_shares(tables, order)
        fixed = [
            paths.u[:, :, None, None] + on_max * paths.h.diagonal()[None, :, None, None]
            + on_query * paths.h[:, :, None, None]
            for on_max, _, on_query in configurations
        ]
        # c = 0: one arrangement; keep the max over y of the whole logit difference.
        tokens = torch.arange(vocab, device=eqkp.device)
        on_max, _, on_query = (share[:, :, 0, 0] for share in configurations[0])
        single = paths.eupu + paths.pi[None] + on_max[:, :, None] * paths.evou[tokens, tokens][None]
        single = single + on_query[:, :, None] * paths.evou
        zero_copies = single.masked_fill(~paths.wrong, -torch.inf).amax(dim=2)
        all_max = paths.eupu[tokens, tokens] + paths.evou[tokens, tokens] + paths.pi
        zero_copies[tokens, tokens] = all_max.masked_fill(~paths.wrong, -torch.inf).amax(dim=1)
        valid = torch.from_numpy(checker_bounds.valid_cases(vocab, n_ctx)).to(eqkp.device)
        return CaseGrid(tables, order, paths, configurations, fixed, zero_copies, valid)

    def bounds(self, other_coefficient: torch.Tensor | None = None) -> torch.Tensor:
        """``B[q, m, k, c]`` (SPEC 5.2) on the case grid, NaN outside the valid cases, with the non-max
        coefficient ``other_coefficient`` [k, m, c], by default the cubic's ``h[k, m]``."""
        coefficient = self.paths.h[:, :, None] if other_coefficient is None else other_coefficient
        coefficient = coefficient.permute(1, 0, 2)[None]  # [1, m, k, c]
        lo, hi = (
            fixed + shares[1] * coefficient for fixed, shares in zip(self.fixed, self.configurations, strict=True)
        )
        bounds = torch.maximum(lo, hi)
        tokens = torch.arange(bounds.shape[0], device=bounds.device)
        bounds[:, tokens, tokens, 0] = self.zero_copies
        return bounds.masked_fill(~self.valid, torch.nan)


def claim_margin(tables: dict[str, torch.Tensor]) -> float:
    """``CLAIM_MARGIN`` times a bound on the magnitude of the centred logit tables."""
    return CLAIM_MARGIN * (1.0 + 2.0 * sum(float(tables[name].abs().max()) for name in ("evou", "pvou", "eupu")))


def claimed_bounds(bounds: torch.Tensor, tables: dict[str, torch.Tensor]) -> torch.Tensor:
    """``bounds + claim_margin(tables)`` rounded up to a finite float32 (NaN stays NaN; ``-inf``, the bound
    when there is no wrong output, becomes the lowest float32)."""
    raised = bounds + claim_margin(tables)
    rounded = raised.to(torch.float32)
    up = torch.nextafter(rounded, torch.full_like(rounded, torch.inf))
    return torch.where(rounded.to(raised.dtype) < raised, up, rounded).clamp(min=torch.finfo(torch.float32).min)


def checkable(
    weights: ModelWeights,
    order: np.ndarray,
    claimed: np.ndarray,
    coefficient: Callable[[checker_bounds.LogitPaths], Interval],
    condition: Callable[[Interval, tuple[np.ndarray, ...]], np.ndarray] | None = None,
) -> np.ndarray:
    """Boolean [q, m, k, c]: the negative claims the checker's replay accepts, by running its enclosure.

    Float64 agrees with the enclosure to about 1e-13 unless an attention factor underflows into the
    subnormal range (score spreads over ~700), where the enclosure widens; such claims are dropped, so a
    certificate never fails for that reason. ``coefficient`` gives the non-max coefficient from the
    checker's logit paths; ``condition`` (shares [2, 3, cases with c >= 1], cases) -> mask over those
    cases is an extra side condition.
    """
    tables = Tables(weights)
    paths = checker_bounds.logit_paths(tables)
    cases = np.nonzero(claimed < 0)
    factors = checker_bounds.case_attention(tables, order)
    rigorous, attention = checker_bounds.case_bounds(factors, cases, paths, coefficient(paths))
    accepted = rigorous.bounded_above_by(claimed[cases])
    if condition is not None:
        accepted[cases[3] > 0] &= condition(attention, cases)
    good = np.zeros(claimed.shape, dtype=bool)
    good[tuple(axis[accepted] for axis in cases)] = True
    return good


def bound_steps(order: np.ndarray, claimed: np.ndarray, good: np.ndarray) -> tuple[Trace, int]:
    """The ``orderings`` and ``bounds`` trace steps for the good cases' float32 claims, and the count."""
    steps = {ORDER_STEP: {"order": order}, BOUND_STEP: {"good": good, "bound": claimed[good].astype("<f4")}}
    return steps, checker_bounds.covered_count(good)


def prove_cubic(proof_input: ProofInput) -> ProofOutput:
    weights = proof_input.weights
    grid = CaseGrid.build(torch_tables(weights, proof_input.device))
    order = grid.order.cpu().numpy().astype("<i4")
    claimed = claimed_bounds(grid.bounds(), grid.tables).cpu().numpy()
    good = checkable(weights, order, claimed, lambda paths: cubic_coefficient(paths, weights.n_ctx))
    steps, count = bound_steps(order, claimed, good)
    return ProofOutput(claim_correct=count, trace=steps, params={})


register(StrategyInfo(name=NAME, family="cubic", complexity="O(V^3 n^2)", prove=prove_cubic))
