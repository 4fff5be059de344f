"""Exact integer counting of covered sequences (Python ints, no size limit), charged as bookkeeping.

The counting steps of the strategies reduce to one sum: a set of cases, each fixing how many of the
``slots`` non-query positions hold a free token (``copies``) and how many tokens each of them may be
(``choices``), covers ``C(slots, copies) * choices ** copies`` sequences. Integer bookkeeping is reported
apart from the FLOPs (SPEC section 4).
"""

from __future__ import annotations

import numpy as np

from checker.kernel import flops


def binomial_row(count: int) -> list[int]:
    """``[C(count, 0), ..., C(count, count)]`` exactly, each from the previous by one multiplication and
    one exact division: O(count^2) bit operations in all, where ``count`` calls of math.comb cost
    O(count^3) (minutes for a context of 16,000)."""
    row = [1]
    for chosen in range(1, count + 1):
        row.append(row[-1] * (count - chosen + 1) // chosen)
    return row


def count_along(mask: np.ndarray, axis: int) -> np.ndarray:
    """The number of True entries of ``mask`` along ``axis`` (int64), charged one per entry."""
    flops.charge_bookkeeping(mask.size)
    return np.count_nonzero(mask, axis=axis)


def arrangement_count(slots: int, copies: np.ndarray, choices: np.ndarray) -> int:
    """``sum_i C(slots, copies[i]) * choices[i] ** copies[i]`` exactly (``0 ** 0 = 1``: a case with no free
    position covers its one sequence); ``0 <= copies[i] <= slots``, ``choices[i] >= 0``. Charged three
    bookkeeping operations per item."""
    copies, choices = np.asarray(copies, dtype=np.int64), np.asarray(choices, dtype=np.int64)
    if np.any(copies < 0) or np.any(copies > slots) or np.any(choices < 0):
        raise ValueError("copies must lie in 0..slots and choices be >= 0")
    flops.charge_bookkeeping(3 * copies.size)
    if not copies.size:
        return 0
    pairs, multiplicity = np.unique(np.stack([copies, choices]), axis=1, return_counts=True)
    arrangements = binomial_row(slots)
    return sum(
        int(times) * arrangements[int(j)] * int(b) ** int(j)
        for (j, b), times in zip(pairs.T, multiplicity, strict=True)
    )
