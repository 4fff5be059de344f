"""The registry of replayable strategies: one :class:`Strategy` per name.

A strategy declares its trace (:class:`checker.schema.TraceSchema`), a replay and a work estimate. The
replay receives the trace as read through the schema and the model's exact tables
(:class:`checker.tables.Tables`, computed and charged on demand), composes kernel operations
(:mod:`checker.kernel`), raises :class:`checker.replay.InvalidCertificate` at the first claim it cannot
verify, and returns the number of input sequences it certified correct (a Python int). A strategy that
can prove a claim about one shard of the input space (:mod:`checker.shards`) also declares a shard
replay and its work estimate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from checker.schema import Trace, TraceSchema
from checker.shards import ShardScope
from checker.tables import Tables


@dataclass
class ReplayResult:
    """What a replay proved: ``certified_count`` sequences are correct; ``notes`` are diagnostics."""

    certified_count: int
    notes: dict[str, int] = field(default_factory=dict)


Replayer = Callable[[Trace, Tables], ReplayResult]
WorkEstimate = Callable[[int, int, int, int], int]
"""``(V, n, d, h) -> work``: an upper estimate, from the statement alone, of the work (in the units of
:mod:`checker.limits`) a replay does besides the tables; checked against the limit before it starts."""
ShardReplayer = Callable[[Trace, Tables, ShardScope], ReplayResult]
ShardWorkEstimate = Callable[[int, int, int, int, int], int]
"""``(V, n, d, h, depth) -> work``: as :data:`WorkEstimate`, for the replay of one shard of that depth."""


@dataclass(frozen=True)
class Strategy:
    """A registered strategy: its name, trace schema, replay and work estimate; for a strategy with shard
    certificates, also their replay and work estimate (None otherwise)."""

    name: str
    schema: TraceSchema
    replay: Replayer
    work: WorkEstimate
    replay_shard: ShardReplayer | None = None
    shard_work: ShardWorkEstimate | None = None


_STRATEGIES: dict[str, Strategy] = {}

# Modules that register themselves on import; loaded on first lookup to avoid an import cycle.
_BUILTIN_MODULES = ("brute_force", "cubic", "cubic_ov_chord", "subcubic")


def register(strategy: Strategy) -> None:
    """Register ``strategy`` under its name (once)."""
    if strategy.name in _STRATEGIES:
        raise ValueError(f"strategy {strategy.name!r} registered twice")
    _STRATEGIES[strategy.name] = strategy


def lookup(name: str) -> Strategy | None:
    """The registered strategy ``name``, or None for an unknown strategy."""
    _load_builtin_strategies()
    return _STRATEGIES.get(name)


def registered() -> list[Strategy]:
    """Every registered strategy, in registration order."""
    _load_builtin_strategies()
    return list(_STRATEGIES.values())


def _load_builtin_strategies() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(f"checker.strategies.{module}")
