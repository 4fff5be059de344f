"""Exact ground truth for small models: every sequence decided correct, tied or wrong, without error.

Independent of the checker and of the prover: the forward pass of SPEC 1 is written here from the raw
float32 weights. Every float32 is an integer multiple of 2^-149, so the residual stream, the query/key
products and the value paths are exact integers with a known power-of-two scale (:class:`Dyadic`). For a
sequence x with query q = x_{n-1} and max m, with ``a_p`` the score of position p and any shift c,

    logit_m - logit_y = S_y / sum_p e_p,   S_y = sum_p e_p D_p[y],   e_p = exp(a_p - c) > 0,
    D_p[y] = (direct[q, m] - direct[q, y]) + (value[x_p, p, m] - value[x_p, p, y])   (exact integers),

so x is correct iff ``S_y > 0`` for every y != m, and tied iff no ``S_y`` is negative and one is exactly 0.

Deciding the sign of ``S_y``:

1. A float64 filter over all sequences at once (numpy): weights ``e`` from mpmath intervals (one per
   (query, token, position), shared by all sequences), ``D`` rounded once to float64. Its error is below
   2^-48 of the magnitude sum plus 2^-1000 (1 + sum_p |D_p|) for underflow (module constants leave
   a factor of 2^8 on top), so a float sum outside that band has the sign of ``S_y``.
2. The few sequences left are decided one by one in mpmath interval arithmetic (``mpmath.iv``) with the
   sequence's own top score as the shift, at 200 bits and more if needed. Exact ties are recognised
   exactly: grouping the positions by equal score (equal integers), ``S_y = sum_g exp(a_g - c) C_g[y]``
   with distinct algebraic exponents ``a_g`` (an integer over sqrt of a rational) and integer
   coefficients ``C_g``; by the Lindemann-Weierstrass theorem this is 0 iff every ``C_g[y]`` is 0, and
   otherwise nonzero, so raising the precision must eventually decide it.

V = 8, n = 4 (4096 sequences) takes about 0.1 s for moderate weights; models with enormous scores
(weights scaled by 2^30 and more) fall through to the interval path and should stay small (V^n of a few
hundred).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
from mpmath import iv

from certificates.model_file import ModelWeights

FLOAT32_QUANTUM_BITS = 149
"""Every float32 is an integer multiple of 2^-149 (the smallest subnormal)."""
PRECISIONS = (200, 800, 3200)
"""Bits tried, in order, by the interval path before giving up on a (provably nonzero) sign."""
RELATIVE_BAND = 2.0**-40
ABSOLUTE_BAND = 2.0**-1000
RELIABLE_WIDTH = 2.0**-100
"""A cached weight is used by the float filter only if its interval is this narrow relative to it."""


@dataclass(frozen=True)
class ExactAccuracy:
    """Per-sequence truth, arrays of shape [V]*n (x_0 first).

    ``correct``: the margin min_{y != max} (logit_max - logit_y) is > 0; ``tied``: it is exactly 0 (a tie
    counts as a failure, SPEC 0); ``margins``: float64 approximations of the margin, for reporting only
    (a tiny nonzero margin may read 0.0; decide with ``correct`` and ``tied``).
    """

    correct: np.ndarray
    tied: np.ndarray
    margins: np.ndarray

    @property
    def count(self) -> int:
        """The exact number of correct sequences."""
        return int(self.correct.sum())


@dataclass(frozen=True)
class Dyadic:
    """The exact real array ``ints / 2**shift`` (``ints``: numpy object array of Python ints).

    Deliberately not :class:`checker.kernel.ExactMatrix`: the ground truth must not share code with the
    checker it judges.
    """

    ints: np.ndarray
    shift: int

    @staticmethod
    def from_float32(array: np.ndarray) -> Dyadic:
        """The exact value of a float32 array."""
        values = np.asarray(array, dtype=np.float32).astype(np.float64)
        ints = np.empty(values.shape, dtype=object)
        for index, value in np.ndenumerate(values):
            numerator, denominator = float(value).as_integer_ratio()
            ints[index] = numerator * ((1 << FLOAT32_QUANTUM_BITS) // denominator)
        return Dyadic(ints, FLOAT32_QUANTUM_BITS)

    def at_shift(self, shift: int) -> np.ndarray:
        """The integers of this value over ``2**shift`` (``shift`` at least ``self.shift``)."""
        return self.ints * (1 << (shift - self.shift))

    def __add__(self, other: Dyadic) -> Dyadic:
        shift = max(self.shift, other.shift)
        return Dyadic(self.at_shift(shift) + other.at_shift(shift), shift)

    def __matmul__(self, other: Dyadic) -> Dyadic:
        return Dyadic(self.ints @ other.ints, self.shift + other.shift)


@dataclass(frozen=True)
class ExactPaths:
    """The exact quantities of the forward pass: ``score[q, t, p] / (2**score_shift * s)`` is the attention
    score of token t at position p for query token q (s = the attention scale); ``difference[q, t, p, m, y]``
    is ``D_p[y]`` (module docstring) over ``2**difference_shift``."""

    score: np.ndarray
    score_shift: int
    scale_squared: Fraction
    difference: np.ndarray
    difference_shift: int


def exact_paths(weights: ModelWeights) -> ExactPaths:
    """SPEC 1 in exact integers, from the raw weights (TransformerLens semantics, all biases)."""
    n_ctx = weights.n_ctx
    exact = {name: Dyadic.from_float32(getattr(weights, name)) for name in (
        "W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "b_Q", "b_K", "b_V", "b_O", "b_U")}
    embed, positions = exact["W_E"], exact["W_pos"]
    resid = Dyadic(embed.ints[:, None, :], embed.shift) + Dyadic(positions.ints[None, :, :], positions.shift)
    last = Dyadic(resid.ints[:, n_ctx - 1], resid.shift)  # [q, d]
    queries = last @ exact["W_Q"] + exact["b_Q"]  # [q, h]
    keys = resid @ exact["W_K"] + exact["b_K"]  # [t, p, h]
    score = np.tensordot(queries.ints, keys.ints, axes=([1], [2]))  # [q, t, p]
    values = ((resid @ exact["W_V"] + exact["b_V"]) @ exact["W_O"]) @ exact["W_U"]  # [t, p, y]
    direct = (last + exact["b_O"]) @ exact["W_U"] + exact["b_U"]  # [q, y]
    shift = max(values.shift, direct.shift)
    direct_ints, value_ints = direct.at_shift(shift), values.at_shift(shift)
    # D[q, t, p, m, y] = (direct[q, m] - direct[q, y]) + (value[t, p, m] - value[t, p, y])
    direct_diff = direct_ints[:, :, None] - direct_ints[:, None, :]  # [q, m, y]
    value_diff = value_ints[:, :, :, None] - value_ints[:, :, None, :]  # [t, p, m, y]
    difference = direct_diff[:, None, None] + value_diff[None]
    return ExactPaths(score, queries.shift + keys.shift, weights.attn_scale_squared, difference, shift)


def exact_accuracy(weights: ModelWeights) -> ExactAccuracy:
    """Decide every sequence of a small model exactly (module docstring)."""
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    shape = (vocab,) * n_ctx
    if vocab == 1:  # no competitor: every sequence is vacuously correct
        return ExactAccuracy(np.ones(shape, bool), np.zeros(shape, bool), np.full(shape, np.inf))
    paths = exact_paths(weights)
    tokens = np.indices(shape).reshape(n_ctx, -1).T  # [S, n]
    positive, negative, margins = _float_filter(paths, tokens)
    correct = positive.all(axis=1)
    for index in np.flatnonzero(~correct & ~negative.any(axis=1)):
        signs, margins[index] = _decide_exactly(paths, tuple(int(t) for t in tokens[index]))
        positive[index], negative[index] = signs > 0, signs < 0
    correct = positive.all(axis=1)
    tied = ~correct & ~negative.any(axis=1)
    return ExactAccuracy(correct.reshape(shape), tied.reshape(shape), margins.reshape(shape))


@contextmanager
def interval_precision(bits: int) -> Iterator[None]:
    """Run the block with ``mpmath.iv`` at ``bits`` bits (the iv context has no ``workprec``)."""
    saved = iv.prec
    iv.prec = bits
    try:
        yield
    finally:
        iv.prec = saved


def _to_float(ints: np.ndarray, shift: int) -> np.ndarray:
    """``ints / 2**shift`` correctly rounded to float64 (inf where it overflows)."""
    denominator = 1 << shift

    def convert(value: int) -> float:
        try:
            return value / denominator  # int true division is correctly rounded
        except OverflowError:
            return math.copysign(math.inf, value)

    return np.array([convert(v) for v in ints.ravel()], dtype=np.float64).reshape(ints.shape)


def score_enclosures(paths: ExactPaths, numerators: np.ndarray) -> list[iv.mpf]:
    """Interval enclosures of the scores ``numerators / (2**score_shift * s)`` at the current iv precision."""
    scale = iv.sqrt(iv.mpf(paths.scale_squared.numerator) / paths.scale_squared.denominator)
    unit = iv.ldexp(iv.mpf(1), -paths.score_shift) / scale
    return [iv.mpf(int(n)) * unit for n in numerators]


def _cached_weights(paths: ExactPaths) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``w[q, t, p] ~ exp(score[q, t, p] - c_q)`` with c_q >= every score of query q, and a mask of
    the entries known to relative accuracy RELIABLE_WIDTH (or below 2^-1100, read as 0)."""
    vocab, _, n_ctx = paths.score.shape
    weights, reliable = np.zeros(paths.score.shape), np.zeros(paths.score.shape, bool)
    with interval_precision(PRECISIONS[0]):
        for query in range(vocab):
            scores = score_enclosures(paths, paths.score[query].ravel())
            top = max(score.b for score in scores)
            for flat, score in enumerate(scores):
                index = (query, *divmod(flat, n_ctx))
                weight = iv.exp(score - top)
                if weight.b < mpmath.mpf(2) ** -1100:
                    reliable[index] = True
                elif weight.delta <= RELIABLE_WIDTH * weight.a:
                    weights[index], reliable[index] = float(weight.mid), True
    return weights, reliable


def _float_filter(paths: ExactPaths, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signs of ``S_y`` [S, V] proven by the float filter (positive, negative; y = m counts as positive),
    and float margins [S] (NaN where every weight underflows)."""
    n_ctx = tokens.shape[1]
    vocab = paths.score.shape[0]
    weights, reliable = _cached_weights(paths)
    difference = _to_float(paths.difference, paths.difference_shift)
    queries, labels = tokens[:, -1], tokens.max(axis=1)
    position = np.arange(n_ctx)
    w = weights[queries[:, None], tokens, position]  # [S, n]
    d = difference[queries[:, None], tokens, position, labels[:, None]]  # [S, n, y]
    with np.errstate(invalid="ignore", over="ignore"):
        terms = w[:, :, None] * d
        total, magnitude = terms.sum(axis=1), np.abs(terms).sum(axis=1)
        band = RELATIVE_BAND * magnitude + ABSOLUTE_BAND * (1 + np.abs(d).sum(axis=1))
        usable = reliable[queries[:, None], tokens, position].all(axis=1)[:, None] & np.isfinite(band)
        positive, negative = usable & (total > band), usable & (total < -band)
        label_column = np.arange(vocab)[None, :] == labels[:, None]
        positive |= label_column
        negative &= ~label_column
        margins = np.where(label_column, np.inf, total).min(axis=1) / w.sum(axis=1)
    return positive, negative, margins


def _decide_exactly(paths: ExactPaths, sequence: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """Signs (+1, 0, -1) of ``S_y`` for every y (y = m reads +1) and the float margin of one sequence."""
    query, label = sequence[-1], max(sequence)
    numerators = [paths.score[query, token, p] for p, token in enumerate(sequence)]
    vocab = paths.difference.shape[-1]
    groups: dict[int, list[int]] = {}
    for position, numerator in enumerate(numerators):
        groups.setdefault(int(numerator), []).append(position)
    signs, sums = np.ones(vocab, dtype=int), {}
    for y in range(vocab):
        if y == label:
            continue
        coefficients = {key: sum(paths.difference[query, sequence[p], p, label, y] for p in group)
                        for key, group in groups.items()}
        if all(value == 0 for value in coefficients.values()):
            signs[y], sums[y] = 0, mpmath.mpf(0)
            continue
        signs[y], sums[y] = _interval_sign(paths, coefficients)
    total_weight = sum(len(group) * _weight(paths, key, max(groups)) for key, group in groups.items())
    margin = min(sums.values()) / total_weight if sums else mpmath.inf
    return signs, float(margin * mpmath.mpf(2) ** -paths.difference_shift)


def _weight(paths: ExactPaths, numerator: int, top: int) -> mpmath.mpf:
    """A 200-bit approximation of ``exp(a - a_top)`` for reporting."""
    with interval_precision(PRECISIONS[0]):
        return mpmath.mpf(iv.exp(score_enclosures(paths, [numerator - top])[0]).mid)


def _interval_sign(paths: ExactPaths, coefficients: dict[int, int]) -> tuple[int, mpmath.mpf]:
    """The sign of ``sum_g exp(a_g - a_top) C_g`` (not all ``C_g`` zero, hence nonzero) and an approximation."""
    top = max(coefficients)
    for bits in PRECISIONS:
        with interval_precision(bits):
            keys = list(coefficients)
            scores = score_enclosures(paths, [key - top for key in keys])
            total = iv.mpf(0)
            for key, score in zip(keys, scores, strict=True):
                total += iv.exp(score) * iv.mpf(coefficients[key])
            if total.a > 0 or total.b < 0:
                return (1 if total.a > 0 else -1), mpmath.mpf(total.mid)
    raise ArithmeticError(f"could not decide a nonzero sign at {PRECISIONS[-1]} bits: {coefficients}")


def sequence_forward(weights: ModelWeights, sequence: tuple[int, ...]) -> tuple[list, list]:
    """One sequence straight through the residual stream in mpmath (the caller sets the precision):
    the final residual at the last position before the unembedding, ``d`` values, and the ``V`` logits."""

    def matrix(array: np.ndarray) -> mpmath.matrix:
        return mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in np.atleast_2d(array)])

    embed, pos = matrix(weights.W_E), matrix(weights.W_pos)
    w_q, w_k, w_v, w_o, w_u = (matrix(getattr(weights, n)) for n in ("W_Q", "W_K", "W_V", "W_O", "W_U"))
    b_q, b_k, b_v, b_o, b_u = (matrix(getattr(weights, n)) for n in ("b_Q", "b_K", "b_V", "b_O", "b_U"))
    scale = mpmath.sqrt(mpmath.mpf(weights.attn_scale_squared.numerator) / weights.attn_scale_squared.denominator)
    resid = [embed[x, :] + pos[p, :] for p, x in enumerate(sequence)]
    query = resid[-1] * w_q + b_q
    scores = [(query * (r * w_k + b_k).T)[0, 0] / scale for r in resid]
    exps = [mpmath.exp(s - max(scores)) for s in scores]
    mixed = mpmath.zeros(1, w_v.cols)
    for e, r in zip(exps, resid, strict=True):
        mixed += (e / sum(exps)) * (r * w_v + b_v)
    final = resid[-1] + mixed * w_o + b_o
    logits = final * w_u + b_u
    return [final[0, j] for j in range(final.cols)], [logits[0, y] for y in range(logits.cols)]


def brute_force_reference(weights: ModelWeights) -> np.ndarray:
    """Every sequence's margin through :func:`sequence_forward` at 200 bits, shape [V]*n: slow, for
    cross-checking :func:`exact_accuracy` on tiny models (it cannot tell a tie from a tiny margin)."""
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    margins = np.zeros((vocab,) * n_ctx)
    with mpmath.workprec(PRECISIONS[0]):
        for sequence in itertools.product(range(vocab), repeat=n_ctx):
            _, logits = sequence_forward(weights, sequence)
            label = max(sequence)
            margins[sequence] = float(min(logits[label] - logits[y] for y in range(vocab) if y != label))
    return margins
