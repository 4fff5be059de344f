"""Cubic (SPEC 5.2) on the prover side: the hints, and the count the checker will find.

The certificate holds only hints (:mod:`checker.strategies.cubic`): the positional orderings
(:func:`positional_order`) and the selection of the ``(q, m, c)`` triples the checker should bound. The
prover runs the checker's own blocks with every triple selected, selects the triples with a good case and
claims the count, which the checker's replay of the final trace reproduces exactly (whether a case is
good does not depend on the selection); so no claim is lost to a float disagreement.

:class:`CaseGrid` evaluates the same case bounds in float64 torch on the whole grid ``[q, m, k, c]`` by
broadcasting (read :mod:`checker.strategies.cubic_bounds` for the formulas); ``cubic-ov-chord`` searches
its hints on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from certificates.model_file import ModelWeights
from checker.schema import Trace
from checker.strategies import cubic_bounds as checker_bounds
from checker.strategies.cubic import NAME, ORDER_STEP, SELECTION_STEP, CaseBlock, cubic_blocks, cubic_result
from checker.tables import Tables
from prover.strategies import ProofInput, ProofOutput, StrategyInfo, register
from prover.tables import torch_tables

BlockReplay = Callable[[Trace, Tables], Iterator[CaseBlock]]
"""A checker function giving the good cases of a trace block by block (``cubic_blocks``, ``chord_blocks``)."""


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


def selected_proof(weights: ModelWeights, hints: Trace, blocks: BlockReplay) -> ProofOutput:
    """``hints`` with the selection of every ``(q, m, c)`` that has a case the checker's ``blocks`` prove
    good, claiming the count those blocks certify."""
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    triples = np.zeros((vocab, vocab, n_ctx), dtype=bool)
    every = {**hints, SELECTION_STEP: {"triples": np.ones_like(triples)}}

    def recorded() -> Iterator[CaseBlock]:
        for block in blocks(every, Tables(weights)):
            triples[block.first : block.first + block.good.shape[0]] = block.good.any(axis=2)
            yield block

    count = cubic_result(recorded()).certified_count
    return ProofOutput(claim_correct=count, trace={**hints, SELECTION_STEP: {"triples": triples}})


def prove_cubic(proof_input: ProofInput) -> ProofOutput:
    eqkp = torch_tables(proof_input.weights, proof_input.device)["eqkp"]
    hints = {ORDER_STEP: {"order": positional_order(eqkp).cpu().numpy().astype("<i4")}}
    return selected_proof(proof_input.weights, hints, cubic_blocks)


register(StrategyInfo(name=NAME, family="cubic", complexity="O(V^3 n^2)", prove=prove_cubic))
