"""The registry of proof strategies on the prover side; names mirror :mod:`checker.strategies`.

A strategy's ``prove`` function receives the model (weights as stored, and the device to compute on) and
returns its claim, its knobs and its trace arrays (step -> array name -> array);
:func:`prover.certify.prove` writes them through the checker's schema of the same name
(:meth:`checker.schema.TraceSchema.write`) into a certificate. Claims should be slightly conservative
(bounds rounded outward) so that the checker's rigorous replay accepts every true claim. The family (the
paper's table group) and the complexity class of each strategy are recorded here, on the prover side:
no verdict needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from certificates.model_file import ModelWeights
from checker.schema import Trace
from checker.shards import ShardScope


@dataclass(frozen=True)
class ProofInput:
    """What a strategy may use: the stored weights and the device to compute on."""

    weights: ModelWeights
    device: torch.device


@dataclass
class ProofOutput:
    """A strategy's result: the claimed number of correct sequences, its knobs and its trace arrays."""

    claim_correct: int
    trace: Trace
    params: dict[str, str | int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class StrategyInfo:
    """A registered strategy: its name, family (the paper's table group) and complexity class; a strategy
    with shard certificates (:mod:`checker.shards`) also proves one shard at a time."""

    name: str
    family: str
    complexity: str
    prove: Callable[[ProofInput], ProofOutput]
    prove_shard: Callable[[ProofInput, ShardScope], ProofOutput] | None = None


_STRATEGIES: dict[str, StrategyInfo] = {}

# Modules that register themselves on import; loaded on first lookup to avoid an import cycle.
_BUILTIN_MODULES = ("brute_force", "cubic", "cubic_ov_chord", "subcubic")


def register(info: StrategyInfo) -> None:
    """Register a strategy (once per name)."""
    if info.name in _STRATEGIES:
        raise ValueError(f"strategy {info.name!r} registered twice")
    _STRATEGIES[info.name] = info


def lookup(name: str) -> StrategyInfo | None:
    """The strategy called ``name``, or None."""
    _load_builtin_strategies()
    return _STRATEGIES.get(name)


def all_strategies() -> list[StrategyInfo]:
    """Every registered strategy, in registration order."""
    _load_builtin_strategies()
    return list(_STRATEGIES.values())


def _load_builtin_strategies() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"prover.strategies.{module}")
