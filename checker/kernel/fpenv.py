"""Start-up and pre-verdict check of the floating-point environment (SPEC section 2).

Every rigorous bound of the checker assumes IEEE 754 binary64 arithmetic that rounds to nearest with
ties to even and keeps subnormal numbers: no flush-to-zero (FTZ, subnormal results replaced by 0) and
no denormals-are-zero (DAZ, subnormal inputs read as 0). :func:`assert_fp_environment` observes the
environment through operations whose correct results are known exactly, both on numpy float64 arrays
(the vectorised loops, which run under the SSE/AVX control register where FTZ/DAZ live) and on Python
floats. It never changes the rounding mode or any other setting; it only refuses to go on.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

ONE = 1.0
HALF_ULP = 2.0**-53  # half the spacing of the floats just above 1
ABOVE_HALF_ULP = 2.0**-53 + 2.0**-105  # exactly representable, strictly above the tie


def _from_bits(bits: int) -> float:
    """The float64 with this bit pattern; no arithmetic, so FTZ/DAZ cannot alter the constant."""
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


SMALLEST_SUBNORMAL = _from_bits(1)  # 2^-1074
TWICE_SMALLEST_SUBNORMAL = _from_bits(2)  # 2^-1073
HALF_SMALLEST_NORMAL = _from_bits(1 << 51)  # 2^-1023, subnormal
SMALLEST_NORMAL = _from_bits(1 << 52)  # 2^-1022

# Long enough that numpy runs its SIMD main loop and its scalar remainder loop.
_LANES = 37


class FPEnvironmentError(Exception):
    """The floating-point environment is not IEEE round-to-nearest-even with subnormals."""


def _array(value: float) -> np.ndarray:
    return np.full(_LANES, value, dtype=np.float64)


def _holds(check: Callable[[Callable[[float], Any]], Any]) -> bool:
    """Evaluate ``check`` with Python floats and with numpy arrays; True iff it holds for both."""
    scalar = bool(check(float))
    vectorised = bool(np.all(check(_array)))
    return scalar and vectorised


# Each check is (description, predicate of a "lift" that turns a float into an operand).
_CHECKS: list[tuple[str, Callable[[Callable[[float], Any]], Any]]] = [
    ("1 + 2^-53 != 1: rounding is not to nearest-even (round-up or ties-away?)",
     lambda f: f(ONE) + f(HALF_ULP) == f(ONE)),
    ("1 + (2^-53 + 2^-105) == 1: rounding is not to nearest (round-down or toward-zero?)",
     lambda f: f(ONE) + f(ABOVE_HALF_ULP) > f(ONE)),
    ("-1 - 2^-53 != -1: rounding is not to nearest-even (round-down or ties-away?)",
     lambda f: -f(ONE) - f(HALF_ULP) == -f(ONE)),
    ("-1 - (2^-53 + 2^-105) == -1: rounding is not to nearest (round-up or toward-zero?)",
     lambda f: -f(ONE) - f(ABOVE_HALF_ULP) < -f(ONE)),
    ("1 + 3*2^-53 != 1 + 2^-51: ties are not broken to even",
     lambda f: f(ONE) + f(3 * HALF_ULP) == f(ONE + 2.0**-51)),
    ("(1 + 2^-52)(1 - 2^-53) != 1: multiplication does not round to nearest",
     lambda f: f(ONE + 2.0**-52) * f(ONE - HALF_ULP) == f(ONE)),
    ("2^-1074 > 0 fails: subnormal inputs are read as zero in comparisons (DAZ)",
     lambda f: f(SMALLEST_SUBNORMAL) > f(0.0)),
    ("2^-1074 * 2^1000 != 2^-74: subnormal inputs are read as zero (DAZ)",
     lambda f: f(SMALLEST_SUBNORMAL) * f(2.0**1000) == f(2.0**-74)),
    ("2^-1022 / 2 != 2^-1023: subnormal results are flushed to zero (FTZ)",
     lambda f: f(SMALLEST_NORMAL) / f(2.0) == f(HALF_SMALLEST_NORMAL)),
    ("2^-1074 * 1 == 0: subnormals are flushed to zero (FTZ) or read as zero (DAZ)",
     lambda f: f(SMALLEST_SUBNORMAL) * f(ONE) != f(0.0)),
    ("2^-1074 + 2^-1074 != 2^-1073: subnormals are flushed to zero (FTZ) or read as zero (DAZ)",
     lambda f: f(SMALLEST_SUBNORMAL) + f(SMALLEST_SUBNORMAL) == f(TWICE_SMALLEST_SUBNORMAL)),
]


def assert_fp_environment() -> None:
    """Raise :class:`FPEnvironmentError` unless arithmetic is round-to-nearest-even without FTZ/DAZ.

    Guarantees on return: the sample operations above, run both as Python float arithmetic and as
    numpy float64 array arithmetic, produced exactly their IEEE 754 round-to-nearest-even results,
    subnormal results included. Nothing about the environment is modified.
    """
    with np.errstate(all="ignore"):
        for description, check in _CHECKS:
            if not _holds(check):
                raise FPEnvironmentError(f"floating-point environment: {description}")
