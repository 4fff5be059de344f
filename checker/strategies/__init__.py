"""The registry of replayable strategies: one replay function per strategy name.

A replay function receives the decoded certificate, the model weights and the rigorous tables, reads the
trace with :class:`checker.replay.Trace`, raises :class:`checker.replay.InvalidCertificate` at the first
claim it cannot verify, and returns the number of input sequences it certified correct (a Python int).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from certificates.codec import Certificate
from certificates.model_file import ModelWeights
from checker.tables import Tables


@dataclass
class ReplayResult:
    """What a replay proved: ``certified_count`` sequences are correct; ``notes`` are diagnostics."""

    certified_count: int
    notes: dict[str, object] = field(default_factory=dict)


Replayer = Callable[[Certificate, ModelWeights, Tables], ReplayResult]
WorkEstimate = Callable[[int, int, int, int], int]
"""``(V, n, d, h) -> work``: an upper estimate, from the statement alone, of the work (in the units of
:mod:`checker.limits`) a replay does after the tables; checked against the limit before it starts."""


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its replay and its work estimate."""

    replay: Replayer
    work: WorkEstimate


_STRATEGIES: dict[str, Strategy] = {}


def register(name: str, *, work: WorkEstimate) -> Callable[[Replayer], Replayer]:
    """Register ``function`` as the replay of strategy ``name`` (once), with its work estimate."""

    def decorate(function: Replayer) -> Replayer:
        if name in _STRATEGIES:
            raise ValueError(f"strategy {name!r} registered twice")
        _STRATEGIES[name] = Strategy(function, work)
        return function

    return decorate


def register_all(names: list[str], function: Replayer, *, work: WorkEstimate) -> None:
    """Register one replay function under several names (a parameterised family)."""
    for name in names:
        register(name, work=work)(function)


def lookup_strategy(name: str) -> Strategy | None:
    """The registered strategy ``name``, or None for an unknown strategy."""
    _load_builtin_strategies()
    return _STRATEGIES.get(name)


def lookup(name: str) -> Replayer | None:
    """The replay function of ``name``, or None for an unknown strategy."""
    strategy = lookup_strategy(name)
    return None if strategy is None else strategy.replay


# Modules that register themselves on import; loaded on first lookup to avoid an import cycle.
_BUILTIN_MODULES = ("brute_force", "cubic", "cubic_ov_chord", "subcubic")


def _load_builtin_strategies() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"checker.strategies.{module}")
