"""Outward rounding of float64 results: the three facts every enclosure of the kernel rests on.

All in round-to-nearest (asserted by :mod:`checker.kernel.fpenv`):

1. A correctly rounded operation (numpy's ``+ - * / sqrt`` on float64) returns ``c = fl(x)`` with
   ``pred(c) <= x <= succ(c)``.
2. For finite ``c``, ``down(c) = c - (|c| * PHI + ETA) <= pred(c)`` and
   ``up(c) = c + (|c| * PHI + ETA) >= succ(c)``, with ``PHI = 2^-53 + 2^-105`` and ``ETA = 2^-1074``,
   each evaluated in floating point (Rump, Zimmermann, Boldo, Melquiond, BIT 2009, Algorithm 3.5).
3. A sum of L floats, in any order, satisfies ``|fl(sum) - sum| <= gamma_{L-1} * sum |x_i|`` with
   ``gamma_k = k u / (1 - k u)`` and ``u = 2^-53`` (Higham, Accuracy and Stability, Lemma 3.1 and
   eq. 4.4); it holds with underflow because floating-point addition is exact when its result is
   subnormal.

Non-finite values are never trusted: ``down``/``up`` of inf or NaN give inf or NaN, which every
predicate of the kernel reads as "not certified". Private to the kernel: strategies compose kernel
operations and never round by hand.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

PHI = 2.0**-53 + 2.0**-105
ETA = 2.0**-1074
UNIT_ROUNDOFF = Fraction(1, 2**53)


def down(c: np.ndarray) -> np.ndarray:
    """A float64 lower bound of every real whose round-to-nearest value is ``c`` (finite ``c``)."""
    return c - (np.abs(c) * PHI + ETA)


def up(c: np.ndarray) -> np.ndarray:
    """A float64 upper bound of every real whose round-to-nearest value is ``c`` (finite ``c``)."""
    return c + (np.abs(c) * PHI + ETA)


def gamma_upper(k: int) -> float:
    """A float64 upper bound of ``gamma_k / (1 - gamma_k)`` (0 for k = 0), computed exactly.

    With ``S = fl(sum |x_i|)`` over L terms, ``sum |x_i| <= S / (1 - gamma_{L-1})``, so the rounding
    error of any float sum of the ``x_i`` is at most ``gamma_upper(L-1) * S`` (before rounding that
    product, which callers round upward).
    """
    if k <= 0:
        return 0.0
    if k * UNIT_ROUNDOFF >= Fraction(1, 2):
        raise ValueError(f"sum of {k + 1} terms is too long for the gamma bound")
    gamma = k * UNIT_ROUNDOFF / (1 - k * UNIT_ROUNDOFF)
    exact = gamma / (1 - gamma)
    approx = float(exact)
    return approx if Fraction(approx) >= exact else float(np.nextafter(approx, np.inf))


def sum_error_bound(abs_sum: np.ndarray, terms: int) -> np.ndarray:
    """Upper bound of ``|fl(sum) - sum|`` for a float sum of ``terms`` items whose |.|-sum is ``abs_sum``.

    ``abs_sum`` must be the floating-point sum of the absolute values of the same items (any order).
    """
    return up(up(abs_sum) * gamma_upper(terms - 1))
