"""Ground truth for small models: every sequence's margin computed with mpmath at 200 bits.

The float32 weights convert exactly; the forward pass follows SPEC 1 (softmax over all n positions at
the last position, TransformerLens semantics). A margin whose magnitude is below ``UNDECIDED`` is
reported as undecided: 200-bit arithmetic cannot tell an exact tie from a tiny margin there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import mpmath
import numpy as np

from certificates.model_file import ModelWeights

PRECISION_BITS = 200
UNDECIDED = mpmath.mpf(2) ** -120


@dataclass(frozen=True)
class ExactAccuracy:
    """Per-sequence truth, arrays of shape [V]*n (x_0 first)."""

    correct: np.ndarray  # margin > UNDECIDED
    undecided: np.ndarray  # |margin| <= UNDECIDED
    margins: np.ndarray  # the 200-bit margins rounded to float64

    @property
    def count(self) -> int:
        return int(self.correct.sum())


def _matrix(array: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(array)])


def exact_accuracy(weights: ModelWeights) -> ExactAccuracy:
    """Decide every sequence of a small model (V^n up to a few thousand)."""
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    shape = (vocab,) * n_ctx
    correct, undecided = np.zeros(shape, bool), np.zeros(shape, bool)
    margins = np.zeros(shape)
    with mpmath.workprec(PRECISION_BITS):
        embed, pos = _matrix(weights.W_E), _matrix(weights.W_pos)
        w_q, w_k, w_v, w_o, w_u = (_matrix(getattr(weights, n)) for n in ("W_Q", "W_K", "W_V", "W_O", "W_U"))
        b_q, b_k, b_v, b_o, b_u = (_matrix(getattr(weights, n)) for n in ("b_Q", "b_K", "b_V", "b_O", "b_U"))
        scale = mpmath.sqrt(mpmath.mpf(weights.attn_scale_squared.numerator) / weights.attn_scale_squared.denominator)
        for sequence in itertools.product(range(vocab), repeat=n_ctx):
            resid = [embed[x, :] + pos[p, :] for p, x in enumerate(sequence)]
            query = resid[-1] * w_q + b_q
            scores = [(query * (r * w_k + b_k).T)[0, 0] / scale for r in resid]
            top = max(scores)
            exps = [mpmath.exp(s - top) for s in scores]
            total = sum(exps)
            mixed = mpmath.zeros(1, w_v.cols)
            for e, r in zip(exps, resid, strict=True):
                mixed += (e / total) * (r * w_v + b_v)
            logits = resid[-1] * w_u + (mixed * w_o + b_o) * w_u + b_u
            label = max(sequence)
            margin = min((logits[0, label] - logits[0, y] for y in range(vocab) if y != label), default=mpmath.inf)
            correct[sequence] = margin > UNDECIDED
            undecided[sequence] = abs(margin) <= UNDECIDED
            margins[sequence] = float(margin)
    return ExactAccuracy(correct=correct, undecided=undecided, margins=margins)
