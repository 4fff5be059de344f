"""Choosing strategies and devices, and proving: the prover's side of the API.

torch is imported only inside these functions, so ``import compact_proofs`` (and checking) works
without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from certificates.codec import Certificate
from certificates.errors import one_line
from compact_proofs.models import Model

if TYPE_CHECKING:
    import torch

    from prover.strategies import StrategyInfo

ALL = "all"
"""The name that selects every registered strategy."""


class RequestError(ValueError):
    """A request that cannot be carried out as asked: an unknown strategy, an unavailable device.
    ``str(e)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def strategies() -> list[StrategyInfo]:
    """Every registered strategy (``name``, ``family``, ``complexity``), in registry order."""
    from prover import strategies as registry

    return registry.all_strategies()


def resolve_strategies(names: str | Iterable[str]) -> list[StrategyInfo]:
    """The strategies that ``names`` select, each once, in the order first selected: an exact name, a
    family prefix (``"subcubic"`` selects every ``"subcubic/..."``) or ``"all"``. RequestError for a
    name that selects nothing."""
    from prover import strategies as registry

    chosen: list[StrategyInfo] = []
    for name in [names] if isinstance(names, str) else names:
        if name == ALL:
            matches = registry.all_strategies()
        elif (exact := registry.lookup(name)) is not None:
            matches = [exact]
        else:
            matches = [s for s in registry.all_strategies() if s.name.startswith(name + "/")]
        if not matches:
            raise RequestError(f"unknown strategy {name!r} (see prove --list-strategies)")
        chosen.extend(s for s in matches if s not in chosen)
    return chosen


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to prove on: None or ``"auto"`` is CUDA when present, else the CPU; RequestError
    for CUDA where it is not available or a name torch does not know."""
    import torch

    from prover.certify import default_device

    if device is None or device == "auto":
        return default_device()
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise RequestError(f"unknown device {device!r}") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise RequestError(f"device {str(chosen)!r} requested but CUDA is not available")
    return chosen


def prove(model: Model, strategy: str | StrategyInfo, device: str | torch.device | None = None) -> Certificate:
    """A certificate for ``model`` by the strategy named ``strategy`` (exactly), proved on ``device``
    (:func:`resolve_device`). The prover is untrusted: only :func:`compact_proofs.check` says whether the
    certificate holds. RequestError for an unknown strategy or an unavailable device."""
    from prover import strategies as registry
    from prover.certify import prove as run_strategy

    info = registry.lookup(strategy) if isinstance(strategy, str) else strategy
    if info is None:
        raise RequestError(f"unknown strategy {strategy!r} (see prove --list-strategies)")
    certificate, _ = run_strategy(model.weights, info, resolve_device(device))
    return certificate


def prove_many(
    model: Model, names: str | Iterable[str], device: str | torch.device | None = None
) -> list[Certificate]:
    """One certificate per strategy that ``names`` select (:func:`resolve_strategies`), in that order."""
    chosen = resolve_strategies(names)
    torch_device = resolve_device(device)
    return [prove(model, info, torch_device) for info in chosen]
