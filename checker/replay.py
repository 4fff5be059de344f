"""Accepting a certificate's claims against rigorous enclosures, and the INVALID verdict.

A claimed upper bound ``c`` of a quantity ``x`` is accepted only if ``c >= hi``, where ``[lo, hi]`` is the
checker's rigorous enclosure of ``x`` (:meth:`checker.kernel.Interval.bounded_above_by`); then
``x <= hi <= c`` and ``c`` (an exact float) may be used downstream. Lower bounds mirror it. The first
failing claim ends the replay with :class:`InvalidCertificate`, which names the step, the array and the
index (the claim's case, where the claims are one per case).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from certificates.errors import one_line, short_repr

if TYPE_CHECKING:
    from checker.kernel import Interval


class InvalidCertificate(Exception):  # noqa: N818 - the verdict's name
    """The certificate does not prove its claim (verdict INVALID, exit 1)."""

    def __init__(self, step: str, array: str | None, index: tuple[int, ...] | None, reason: str) -> None:
        """The message names the step and array (quoted and cut: they may come from the certificate) and
        is one line of at most MAX_MESSAGE_CHARS characters."""
        self.step, self.array, self.index, self.reason = step, array, index, reason
        where = f"step {short_repr(step)}"
        if array is not None:
            where += f" array {short_repr(array)}"
        if index is not None:
            where += f" index {index}"
        super().__init__(one_line(f"{where}: {reason}"))


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True entry of ``mask`` (C order)."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def accept_upper(
    claimed: np.ndarray, enclosure: Interval, *, step: str, array: str, cases: tuple[np.ndarray, ...] | None = None
) -> np.ndarray:
    """The claims as float64 if every ``claimed[i] >= enclosure.hi[i]``; INVALID otherwise, naming the
    first failing index, or its case ``tuple(axis[i] for axis in cases)``. NaN is never accepted."""
    return _accept(claimed, enclosure.bounded_above_by(claimed), enclosure, "upper", step, array, cases)


def accept_lower(
    claimed: np.ndarray, enclosure: Interval, *, step: str, array: str, cases: tuple[np.ndarray, ...] | None = None
) -> np.ndarray:
    """The claims as float64 if every ``claimed[i] <= enclosure.lo[i]``; INVALID otherwise (as above)."""
    return _accept(claimed, enclosure.bounded_below_by(claimed), enclosure, "lower", step, array, cases)


def _accept(
    claimed: np.ndarray, ok: np.ndarray, enclosure: Interval, side: str, step: str, array: str,
    cases: tuple[np.ndarray, ...] | None,
) -> np.ndarray:
    if not ok.all():
        index = first_index(~ok)
        where = index if cases is None else tuple(int(axis[index[0]]) for axis in cases)
        shown = enclosure.describe(index)
        reason = f"claimed {side} bound {float(claimed[index])!r} does not bound the rigorous enclosure {shown}"
        raise InvalidCertificate(step, array, where, reason)
    return np.asarray(claimed, dtype=np.float64)
