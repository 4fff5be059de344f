"""Results shared by the replays of one model: computed once, charged to each replay that reads them.

A :class:`SharedResults` holds named recipes, each with the names of the results it is computed from.
Reading a result computes it (and what it needs) the first time, measuring its own cost with a private
counter; every read then charges the active counter for the result and for everything it was computed
from, once per counter (:func:`checker.kernel.flops.charge_once`). So a replay is charged exactly what a
fresh checker would execute to obtain what the replay reads, whatever was computed before it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from checker.kernel import flops


@dataclass(frozen=True)
class Recipe:
    """How to compute one shared result: from the results named ``inputs``, in that order."""

    inputs: tuple[Hashable, ...]
    compute: Callable[..., Any]


class SharedResults:
    """Lazily computed, individually charged results (module docstring)."""

    def __init__(self, recipes: Callable[[Hashable], Recipe]) -> None:
        """``recipes(name)`` gives the recipe of ``name`` (KeyError for an unknown name)."""
        self._recipes = recipes
        self._values: dict[Hashable, Any] = {}
        self._costs: dict[Hashable, int] = {}
        self._inputs: dict[Hashable, tuple[Hashable, ...]] = {}

    def read(self, name: Hashable) -> Any:
        """The result ``name``, charging the active counter for it and its inputs (once each)."""
        value = self._value(name)
        self._charge(name)
        return value

    def _value(self, name: Hashable) -> Any:
        if name not in self._values:
            recipe = self._recipes(name)
            inputs = [self._value(source) for source in recipe.inputs]
            with flops.counting() as own:
                self._values[name] = recipe.compute(*inputs)
            self._costs[name], self._inputs[name] = own.flops, recipe.inputs
        return self._values[name]

    def _charge(self, name: Hashable) -> None:
        flops.charge_once((id(self), name), self._costs[name])
        for source in self._inputs[name]:
            self._charge(source)
