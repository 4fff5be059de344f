"""Comparisons of floats read from a certificate (claims and hints) with each other or with constants.

Floats are exact reals, so these comparisons are exact; each is charged one FLOP per output, as the cost
model prices a comparison. NaN compares as False, so a NaN claim never passes a test it needs to pass
(certificates hold no NaN anyway: the decoder refuses it).
"""

from __future__ import annotations

import numpy as np

from checker.kernel import flops


def _charged(result: np.ndarray) -> np.ndarray:
    flops.charge(np.size(result))
    return result


def less(values: np.ndarray | float, bound: np.ndarray | float) -> np.ndarray:
    """``values < bound`` elementwise (broadcast)."""
    return _charged(np.less(values, bound))


def less_equal(values: np.ndarray | float, bound: np.ndarray | float) -> np.ndarray:
    """``values <= bound`` elementwise (broadcast)."""
    return _charged(np.less_equal(values, bound))


def greater(values: np.ndarray | float, bound: np.ndarray | float) -> np.ndarray:
    """``values > bound`` elementwise (broadcast)."""
    return _charged(np.greater(values, bound))


def greater_equal(values: np.ndarray | float, bound: np.ndarray | float) -> np.ndarray:
    """``values >= bound`` elementwise (broadcast)."""
    return _charged(np.greater_equal(values, bound))
