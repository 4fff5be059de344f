"""Which sequences a VALID certificate covers, read from its trace, for the strategies that say so.

The checker reports only a count. For the case-based families the trace names the covered sequences
exactly, so the trust suite can ask the stronger question "is every covered sequence correct?" (and
"does the count match the set?") instead of only comparing counts, which a wrong bound on a few cases
could pass while the strategy certifies far fewer sequences than are correct.

* cubic (``cubic``, ``cubic-ov-chord``; SPEC 5.2): ``bounds.good`` [q, m, k, c]; c counts the non-query
  positions holding a non-max token. A sequence with c = 0 is covered by ``good[q, m, m, 0]``; with
  c >= 1 when every such token k has ``good[q, m, k, c]`` (mixtures of good tokens are covered).
* subcubic (``subcubic/...``; SPEC 5.3): ``gaps.good`` and ``gaps.gap`` [q, m, c]; c counts the non-max
  tokens including the query when q != m. Covered when ``good[q, m, c]`` and every non-query non-max
  token is at most ``m - gap[q, m, c]``.
"""

from __future__ import annotations

import numpy as np

from certificates.codec import Certificate


def covered_sequences(certificate: Certificate, vocab: int, n_ctx: int) -> np.ndarray | None:
    """Boolean [V]*n of the sequences the certificate covers (x_0 first), or None for a strategy whose trace
    does not name them (brute force decides every sequence inside the checker)."""
    arrays = {step.step: step.arrays for step in certificate.trace}
    tokens = np.indices((vocab,) * n_ctx).reshape(n_ctx, -1).T  # [S, n]
    query, label, rest = tokens[:, -1], tokens.max(axis=1), tokens[:, :-1]
    non_max = rest < label[:, None]  # non-query positions holding a non-max token
    if certificate.strategy_name in ("cubic", "cubic-ov-chord"):
        good = arrays["bounds"]["good"]
        copies = non_max.sum(axis=1)
        member = good[query[:, None], label[:, None], rest, copies[:, None]] | ~non_max
        covered = np.where(copies == 0, good[query, label, label, 0], member.all(axis=1))
    elif certificate.strategy_name.startswith("subcubic/"):
        good, gap = arrays["gaps"]["good"], arrays["gaps"]["gap"].astype(np.int64)
        copies = non_max.sum(axis=1) + (query != label)
        limit = label - gap[query, label, copies]
        covered = good[query, label, copies] & (~non_max | (rest <= limit[:, None])).all(axis=1)
    else:
        return None
    return covered.reshape((vocab,) * n_ctx)
