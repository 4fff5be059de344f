"""Cost model v2: the FLOP counter behind every arithmetic operation of the checker.

Proof length is the number of real-number operations the checker's replay executes (SPEC section 4):
an interval operation counts as the one real operation it encloses. Only the kernel charges: every
operation of :mod:`checker.kernel.interval`, :mod:`checker.kernel.lower` and :mod:`checker.kernel.exact`
charges the active counter, and integer bookkeeping of the final count (:mod:`checker.kernel.counting`)
is reported apart from the FLOPs. Strategies never charge by hand (a test enforces it), so the proof
length is what was executed.

Version 2 differs from version 1 in what is charged, not in the price of an operation: an exact table
(or part of one) is charged to a replay only if the replay reads it, once per replay
(:func:`charge_once`, used by :mod:`checker.tables`); and the brute-force filter is charged by the same
kernel operations as everything else.
"""

from __future__ import annotations

import contextvars
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

COST_MODEL_VERSION = 2


@dataclass
class FlopCounter:
    """Running totals of one replay, and the shared results already charged to it."""

    flops: int = 0
    bookkeeping: int = 0
    charged: set[Hashable] = field(default_factory=set)


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


def charge_once(key: Hashable, flops: int) -> None:
    """Charge ``flops`` for the shared result ``key`` unless the active counter was charged for it."""
    counter = _active.get()
    if counter is not None and key not in counter.charged:
        counter.charged.add(key)
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
