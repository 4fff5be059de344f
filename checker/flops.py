"""Cost model v1: the FLOP counter behind every arithmetic operation of the checker.

Proof length is the number of real-number operations the checker's replay executes (SPEC section 4):
an interval operation counts as the one real operation it encloses. Every operation of
:mod:`checker.interval` charges the active counter; code that computes on raw float arrays for speed
(the brute-force filter) charges explicitly through :func:`charge`. Integer bookkeeping of the final
count is reported separately through :func:`charge_bookkeeping`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

COST_MODEL_VERSION = 1


@dataclass
class FlopCounter:
    """Running totals of one replay."""

    flops: int = 0
    bookkeeping: int = 0


_active: contextvars.ContextVar[FlopCounter | None] = contextvars.ContextVar("flop_counter", default=None)


@contextmanager
def counting() -> Iterator[FlopCounter]:
    """Count every operation executed inside the ``with`` block into a fresh counter."""
    counter = FlopCounter()
    token = _active.set(counter)
    try:
        yield counter
    finally:
        _active.reset(token)


def charge(flops: int) -> None:
    """Add ``flops`` real-number operations to the active counter (no-op outside :func:`counting`)."""
    counter = _active.get()
    if counter is not None:
        counter.flops += int(flops)


def charge_bookkeeping(ops: int) -> None:
    """Add integer bookkeeping operations (exact counting), reported apart from FLOPs."""
    counter = _active.get()
    if counter is not None:
        counter.bookkeeping += int(ops)


def matmul_cost(rows: int, inner: int, cols: int) -> int:
    """Cost of an (rows x inner) @ (inner x cols) product: rows * cols * (2 inner - 1)."""
    return rows * cols * max(2 * inner - 1, 0)


def reduction_cost(length: int, outputs: int) -> int:
    """Cost of reducing ``outputs`` vectors of ``length`` items (sum, max, min, any, all)."""
    return max(length - 1, 0) * outputs
