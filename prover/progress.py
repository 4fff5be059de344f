"""The one progress-bar style of the prover: tqdm on stderr, shown only to a human at a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(
    iterable: Iterable[T],
    *,
    total: int | None = None,
    desc: str = "",
    enabled: bool | None = None,
    leave: bool = True,
) -> Iterator[T]:
    """Iterate over ``iterable`` with a tqdm bar on stderr.

    ``enabled=None`` shows the bar only when stderr is a terminal, so logs and pipes stay clean;
    ``True`` forces it and ``False`` hides it. ``leave=False`` erases the bar when it finishes
    (for inner bars nested under another one).
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    return iter(tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=leave, file=sys.stderr))
