"""Reading a certificate's trace as untrusted claims, and accepting claims against rigorous enclosures.

A strategy's replay reads the trace step by step with :class:`Trace` (steps in the order the strategy
defines, exact array sets, shapes and dtypes) and accepts each claimed bound with
:func:`accept_upper_bounds` / :func:`accept_lower_bounds`: a claimed upper bound ``c`` of a quantity ``x``
is accepted only if ``c >= hi``, where ``[lo, hi]`` is the checker's rigorous enclosure of ``x``; then
``x <= hi <= c`` and ``c`` (an exact float) may be used downstream. The first failing claim ends the
replay with :class:`InvalidCertificate`, which names the step, the array and the index.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from certificates.codec import TraceStep
from checker import flops
from checker.interval import Interval


class InvalidCertificate(Exception):  # noqa: N818 - the verdict's name
    """The certificate does not prove its claim (verdict INVALID, exit 1)."""

    def __init__(self, step: str, array: str | None, index: tuple[int, ...] | None, reason: str) -> None:
        self.step, self.array, self.index, self.reason = step, array, index, reason
        where = f"step '{step}'"
        if array is not None:
            where += f" array '{array}'"
        if index is not None:
            where += f" index {index}"
        super().__init__(f"{where}: {reason}")


class Trace:
    """Ordered, validated access to a certificate's trace steps."""

    def __init__(self, steps: Iterable[TraceStep]) -> None:
        self._steps = list(steps)
        self._position = 0

    def next(self, step: str, arrays: dict[str, tuple[tuple[int, ...], str]]) -> dict[str, np.ndarray]:
        """The next step, which must be named ``step`` and hold exactly ``arrays`` {name: (shape, dtype)}.

        ``dtype`` is a numpy dtype string such as ``"<f8"`` or ``"|b1"``; a shape entry of -1 accepts
        any length on that axis.
        """
        if self._position >= len(self._steps):
            raise InvalidCertificate(step, None, None, "step missing from the trace")
        found = self._steps[self._position]
        if found.step != step:
            raise InvalidCertificate(step, None, None, f"expected step '{step}', found '{found.step}'")
        if set(found.arrays) != set(arrays):
            raise InvalidCertificate(
                step, None, None, f"arrays {sorted(found.arrays)} differ from the expected {sorted(arrays)}"
            )
        for name, (shape, dtype) in arrays.items():
            array = found.arrays[name]
            if array.dtype != np.dtype(dtype):
                raise InvalidCertificate(step, name, None, f"dtype {array.dtype.str}, expected {dtype}")
            if len(array.shape) != len(shape) or any(
                want not in (-1, got) for want, got in zip(shape, array.shape, strict=True)
            ):
                raise InvalidCertificate(step, name, None, f"shape {list(array.shape)}, expected {list(shape)}")
        self._position += 1
        return dict(found.arrays)

    def finish(self) -> None:
        """Reject steps left over after the strategy's last step."""
        if self._position != len(self._steps):
            extra = self._steps[self._position].step
            raise InvalidCertificate(extra, None, None, "unexpected step after the end of the proof")


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def accept_upper_bounds(
    claimed: np.ndarray, rigorous: Interval, *, step: str, array: str, where: np.ndarray | None = None
) -> np.ndarray:
    """Accept claimed upper bounds: every ``claimed >= rigorous.hi`` (where ``where`` is True).

    Returns the claims as float64; then ``true value <= claimed`` holds at every accepted entry. NaN in
    the enclosure fails the comparison, so a non-finite enclosure is never accepted.
    """
    claimed = np.asarray(claimed, dtype=np.float64)
    return _accept(claimed, claimed >= rigorous.hi, rigorous.hi, "upper", "below", step, array, where)


def accept_lower_bounds(
    claimed: np.ndarray, rigorous: Interval, *, step: str, array: str, where: np.ndarray | None = None
) -> np.ndarray:
    """Accept claimed lower bounds: every ``claimed <= rigorous.lo`` (where ``where`` is True)."""
    claimed = np.asarray(claimed, dtype=np.float64)
    return _accept(claimed, claimed <= rigorous.lo, rigorous.lo, "lower", "above", step, array, where)


def _accept(
    claimed: np.ndarray, ok: np.ndarray, rigorous: np.ndarray, side: str, wrong_side: str,
    step: str, array: str, where: np.ndarray | None,
) -> np.ndarray:
    flops.charge(ok.size)
    bad = ~ok if where is None else (~ok & where)
    if bad.any():
        index = _first_index(bad)
        raise InvalidCertificate(
            step, array, index,
            f"claimed {side} bound {claimed[index]!r} is {wrong_side} the rigorous {side} bound {rigorous[index]!r}",
        )
    return claimed
