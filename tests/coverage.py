"""Which sequences a VALID certificate covers, for the strategies whose cases say so.

The checker reports only a count. For the case-based families the good cases name the covered sequences
exactly, so the trust suite can ask the stronger question "is every covered sequence correct?" (and
"does the count match the set?") instead of only comparing counts, which a wrong bound on a few cases
could pass while the strategy certifies far fewer sequences than are correct.

* cubic (``cubic``, ``cubic-ov-chord``; SPEC 5.2): the good cases [q, m, k, c] the checker proves along
  the trace's hints (its own blocks, :func:`checker.strategies.cubic.cubic_blocks`, concatenated; the
  certificate holds no case mask); c counts the non-query
  positions holding a non-max token. A sequence with c = 0 is covered by ``good[q, m, m, 0]``; with
  c >= 1 when every such token k has ``good[q, m, k, c]`` (mixtures of good tokens are covered).
* subcubic (``subcubic/...``; SPEC 5.3): ``gaps.good`` and ``gaps.gap`` [q, m, c]; c counts the non-max
  tokens including the query when q != m. Covered when ``good[q, m, c]`` and every non-query non-max
  token is at most ``m - gap[q, m, c]``.
"""

from __future__ import annotations

import functools

import numpy as np

from certificates.codec import Certificate
from certificates.model_file import ModelWeights
from checker.strategies.cubic import cubic_blocks
from checker.strategies.cubic_ov_chord import chord_blocks
from checker.tables import Tables


@functools.lru_cache(maxsize=2)
def _sequences(vocab: int, n_ctx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every sequence (flat, x_0 first): its query token, its max, its non-query tokens [S, n-1], and which
    of those hold a non-max token (cached and read-only: V = 64, n = 4 takes about 0.2 GB)."""
    tokens = np.indices((vocab,) * n_ctx, dtype=np.int16).reshape(n_ctx, -1).T  # [S, n]
    query, label, rest = tokens[:, -1], tokens.max(axis=1), tokens[:, :-1]
    arrays = (np.ascontiguousarray(query), label, np.ascontiguousarray(rest), rest < label[:, None])
    for array in arrays:
        array.flags.writeable = False
    return arrays


def cubic_covered(good: np.ndarray) -> np.ndarray:
    """Boolean [V]*n from a cubic ``good`` [q, m, k, c] table, by enumeration (no counting formula)."""
    vocab, n_ctx = good.shape[0], good.shape[3]
    query, label, rest, non_max = _sequences(vocab, n_ctx)
    copies = non_max.sum(axis=1)
    member = good[query[:, None], label[:, None], rest, copies[:, None]] | ~non_max
    covered = np.where(copies == 0, good[query, label, label, 0], member.all(axis=1))
    return covered.reshape((vocab,) * n_ctx)


def subcubic_covered(good: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Boolean [V]*n from subcubic ``good`` and ``gap`` [q, m, c] tables, by enumeration."""
    vocab, _, n_ctx = good.shape
    query, label, rest, non_max = _sequences(vocab, n_ctx)
    copies = non_max.sum(axis=1) + (query != label)
    gap = gap.astype(np.int64)
    limit = label.astype(np.int64) - gap[query, label, copies]
    covered = good[query, label, copies] & (~non_max | (rest <= limit[:, None])).all(axis=1)
    return covered.reshape((vocab,) * n_ctx)


def covered_sequences(certificate: Certificate, weights: ModelWeights) -> np.ndarray | None:
    """Boolean [V]*n of the sequences the certificate covers on ``weights`` (x_0 first), or None for a
    strategy whose cases do not name them (brute force decides every sequence inside the checker)."""
    arrays = {step.step: step.arrays for step in certificate.trace}
    blocks = {"cubic": cubic_blocks, "cubic-ov-chord": chord_blocks}.get(certificate.strategy_name)
    if blocks is not None:
        return cubic_covered(np.concatenate([block.good for block in blocks(arrays, Tables(weights))]))
    if certificate.strategy_name.startswith("subcubic/"):
        return subcubic_covered(arrays["gaps"]["good"], arrays["gaps"]["gap"])
    return None
