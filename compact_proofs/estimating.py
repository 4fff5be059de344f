"""Statistical estimates of a model's accuracy where brute force is out of reach (SPEC 8): not proofs.

``estimate(model, samples, confidence, seed)`` draws ``samples`` sequences uniformly and independently
(with replacement) from ``{0..V-1}^n`` with numpy's PCG64 generator seeded by ``seed``, decides each one
rigorously with the checker's per-sequence procedure
(:func:`checker.strategies.brute_force.decide_sequences`: proven correct, proven wrong, or undecided),
and reports the exact binomial (Clopper-Pearson) interval at ``confidence``, with the undecided samples
counted as wrong for the lower limit and as right for the upper one. With probability at least
``confidence`` over the draw, the interval holds the model's accuracy. An estimate is never a verdict
and never feeds a certificate; every output names it a statistical estimate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from checker.strategies.brute_force import decide_sequences
from checker.tables import Tables
from compact_proofs.models import Model

SAMPLE_BLOCK = 1 << 16
"""Sequences drawn and decided at once."""
LABEL = "statistical estimate (Clopper-Pearson interval over uniform samples), not a proof"


@dataclass(frozen=True)
class Estimate:
    """The outcome of :func:`estimate`: counts of the samples by decision and the interval."""

    model: str
    samples: int
    proven_correct: int
    proven_wrong: int
    confidence: float
    seed: int
    lower: float
    upper: float
    seconds: float
    label: str = LABEL

    @property
    def undecided(self) -> int:
        return self.samples - self.proven_correct - self.proven_wrong


def estimate(model: Model, samples: int, confidence: float = 0.999, seed: int = 0,
             progress_bar: bool | None = None) -> Estimate:
    """Estimate ``model``'s accuracy from ``samples`` uniform sequences (module docstring)."""
    if samples < 1:
        raise ValueError("samples must be at least 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")
    from prover.progress import progress

    start = time.perf_counter()
    weights = model.weights
    tables = Tables(weights)
    generator = np.random.default_rng(seed)
    correct = wrong = 0
    blocks = range(0, samples, SAMPLE_BLOCK)
    for first in progress(blocks, total=len(blocks), desc="samples", enabled=progress_bar):
        count = min(SAMPLE_BLOCK, samples - first)
        sequences = generator.integers(0, weights.d_vocab, size=(count, weights.n_ctx), dtype=np.int64)
        proven_correct, proven_wrong = decide_sequences(tables, sequences)
        correct += int(np.count_nonzero(proven_correct))
        wrong += int(np.count_nonzero(proven_wrong))
    tail = (1.0 - confidence) / 2
    lower, upper = clopper_pearson(correct, samples, tail)[0], clopper_pearson(samples - wrong, samples, tail)[1]
    return Estimate(model.name, samples, correct, wrong, confidence, seed, lower, upper,
                    time.perf_counter() - start)


def clopper_pearson(successes: int, trials: int, tail: float) -> tuple[float, float]:
    """The exact binomial interval ``(p_lo, p_hi)`` for ``successes`` of ``trials``, each limit with
    one-sided error ``tail``: ``P(X >= successes | p_lo) = tail`` (0 when there are no successes) and
    ``P(X <= successes | p_hi) = tail`` (1 when every trial succeeded), found by bisection on
    ``P(X >= k | p) = I_p(k, n - k + 1)``, which increases with ``p``."""
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie in 0..trials")
    lower = 0.0 if successes == 0 else _solve(lambda p: regularized_beta(p, successes, trials - successes + 1), tail)
    upper = 1.0 if successes == trials else _solve(
        lambda p: regularized_beta(p, successes + 1, trials - successes), 1.0 - tail)
    return lower, upper


def _solve(increasing, target: float) -> float:
    """The ``p`` in [0, 1] with ``increasing(p) = target``, by bisection to float resolution."""
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        if increasing(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def regularized_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)`` for ``a, b > 0``, ``0 <= x <= 1``: the
    continued fraction of DLMF 8.17.22, evaluated by the modified Lentz method, on the side where it
    converges fast (``x < (a + 1) / (a + b + 2)``, else through ``I_x(a, b) = 1 - I_{1-x}(b, a)``)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - regularized_beta(1.0 - x, b, a)
    log_front = a * math.log(x) + b * math.log1p(-x) - math.log(a) - _log_beta(a, b)
    return math.exp(log_front) * _continued_fraction(x, a, b)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _continued_fraction(x: float, a: float, b: float) -> float:
    """``1 / (1 + d_1 / (1 + d_2 / (1 + ...)))`` with ``d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))``
    and ``d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))`` (DLMF 8.17.22), by the modified Lentz method."""
    tiny = 1e-300
    value = 1.0  # the fraction after its first level 1 / 1; Lentz's C is then 1 + 1 / tiny, D is 1
    numerator_ratio, denominator_ratio = 1.0 / tiny, 1.0
    for index in range(1, 100_000):
        m = index // 2
        if index % 2:
            term = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            term = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        denominator_ratio = 1.0 + term * denominator_ratio
        denominator_ratio = 1.0 / (denominator_ratio if abs(denominator_ratio) > tiny else tiny)
        numerator_ratio = 1.0 + term / numerator_ratio
        numerator_ratio = numerator_ratio if abs(numerator_ratio) > tiny else tiny
        step = numerator_ratio * denominator_ratio
        value *= step
        if abs(step - 1.0) < 1e-15:
            break
    return value
