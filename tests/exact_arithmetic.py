"""Exact references for the containment tests: the true real value of what a checker step encloses, from
the float32 weights, compared with the step's float endpoints exactly.

Three kinds of exact value:

* a rational, a ``fractions.Fraction`` (numpy object arrays of them: :func:`fractions_of`,
  :func:`exact_tables`): products, sums, differences, maxima and means of weights;
* :class:`OverRoot`, rationals ``r`` standing for ``r / sqrt(root_squared)``: the tables divided by the
  attention scale ``s = sqrt(s^2)``, compared with floats exactly through squares;
* :class:`Bracket`, a real known only to lie in ``[lo, hi]`` (two Fractions): a quantity with exp (a
  sequence's attention and logit differences, :func:`sequence_truths`), bracketed by mpmath interval
  arithmetic at 200 bits, which rounds every operation outward. A float upper bound must then be at least
  ``hi`` and a lower bound at most ``lo``: the only margin, about 2^-190 relative, is on the SAFE side
  (a test can only be stricter than the truth). Exact ties are exact: positions with equal scores are
  grouped, so a logit difference whose integer coefficients cancel is the Bracket [0, 0].

Comparisons (:func:`assert_encloses`, :func:`assert_upper_bound`, :func:`assert_lower_bound`) read each
float as the exact rational it is. NaN never holds, and neither does an infinite endpoint unless no finite
float would do (an exp beyond DBL_MAX): a mutant that answers [-inf, inf] (or NaN) fails.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from mpmath import iv, libmp

from certificates.model_file import ModelWeights
from tests.exact_reference import PRECISIONS, exact_paths, interval_precision, score_enclosures

DBL_MAX = float(np.finfo(np.float64).max)
WEIGHT_NAMES = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "b_Q", "b_K", "b_V", "b_O", "b_U")


def fractions_of(values: np.ndarray | float) -> np.ndarray:
    """The exact rationals of float values (float32 and float64 convert exactly), as an object array."""
    array = np.asarray(values, dtype=np.float64)
    exact = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        exact[index] = Fraction(float(value))
    return exact


@dataclass(frozen=True)
class OverRoot:
    """The exact reals ``ratio / sqrt(root_squared)`` (``ratio``: object array of Fractions, root > 0)."""

    ratio: np.ndarray
    root_squared: Fraction

    def __getitem__(self, index) -> OverRoot:
        return OverRoot(np.asarray(self.ratio[index], dtype=object), self.root_squared)

    def __sub__(self, other: OverRoot) -> OverRoot:
        assert other.root_squared == self.root_squared
        return OverRoot(self.ratio - other.ratio, self.root_squared)

    def times(self, factor: Fraction) -> OverRoot:
        """The same reals with the root multiplied by ``factor > 0`` (and the ratio with it)."""
        return OverRoot(self.ratio * factor, self.root_squared * factor * factor)

    def row_range(self) -> OverRoot:
        """``max - min`` along the last axis (dividing by a positive root keeps the order)."""
        return OverRoot(self.ratio.max(axis=-1) - self.ratio.min(axis=-1), self.root_squared)


@dataclass(frozen=True)
class Bracket:
    """A real known to lie in ``[lo, hi]`` (Fractions)."""

    lo: Fraction
    hi: Fraction

    @staticmethod
    def of(value: iv.mpf) -> Bracket:
        """The endpoints of an mpmath interval, exactly."""
        low, high = value._mpi_
        return Bracket(Fraction(*libmp.to_rational(low)), Fraction(*libmp.to_rational(high)))

    def __add__(self, other: Bracket | Fraction) -> Bracket:
        other = other if isinstance(other, Bracket) else Bracket(other, other)
        return Bracket(self.lo + other.lo, self.hi + other.hi)

    __radd__ = __add__

    def times(self, factor: Fraction) -> Bracket:
        """The bracket of ``factor * x`` for a rational factor of either sign."""
        ends = (factor * self.lo, factor * self.hi)
        return Bracket(min(ends), max(ends))

    @staticmethod
    def maximum(brackets) -> Bracket:
        """The bracket of the largest of the bracketed reals."""
        brackets = list(brackets)
        return Bracket(max(b.lo for b in brackets), max(b.hi for b in brackets))


# ----------------------------------------------------------------------------- comparisons
def _float_at_most(bound: float, value, root: Fraction | None) -> bool:
    """``bound <= value`` for a finite bound (a Bracket: ``bound <= lo``)."""
    if isinstance(value, Bracket):
        return Fraction(bound) <= value.lo
    if root is None:
        return Fraction(bound) <= value
    return at_most_over_root(Fraction(bound), root, value)


def _float_at_least(bound: float, value, root: Fraction | None) -> bool:
    """``bound >= value`` for a finite bound (a Bracket: ``bound >= hi``)."""
    if isinstance(value, Bracket):
        return Fraction(bound) >= value.hi
    if root is None:
        return Fraction(bound) >= value
    return at_most_over_root(-Fraction(bound), root, -value)


def at_most_over_root(f: Fraction, root_squared: Fraction, r: Fraction) -> bool:
    """``f <= r / sqrt(root_squared)`` for rationals, i.e. ``f sqrt(root_squared) <= r``, decided on signs
    and squares."""
    if f <= 0 <= r:
        return True
    if f >= 0 and r >= 0:
        return f * f * root_squared <= r * r
    if f <= 0 and r <= 0:
        return f * f * root_squared >= r * r
    return False  # f > 0 > r


def holds(bounds: np.ndarray, exact, *, upper: bool) -> np.ndarray:
    """Boolean mask: each float of ``bounds`` is an upper (``upper``) or lower bound of the exact value (a
    Fraction array, an :class:`OverRoot` or an object array of :class:`Bracket`), broadcast together. NaN
    never holds; an infinite bound holds only where the value lies beyond the float range."""
    root = exact.root_squared if isinstance(exact, OverRoot) else None
    values = exact.ratio if isinstance(exact, OverRoot) else np.asarray(exact, dtype=object)
    bounds = np.asarray(bounds, dtype=np.float64)
    bounds, values = np.broadcast_arrays(bounds, values)
    compare = _float_at_least if upper else _float_at_most
    largest = DBL_MAX if upper else -DBL_MAX
    result = np.zeros(bounds.shape, dtype=bool)
    for index, bound in np.ndenumerate(bounds):
        value = values[index]
        if math.isfinite(bound):
            result[index] = compare(float(bound), value, root)
        elif bound == (math.inf if upper else -math.inf):  # only where no finite float would do
            result[index] = not compare(largest, value, root)
    return result


def _first_failure(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(~mask)[0])


def assert_upper_bound(bounds: np.ndarray, exact, what: str = "") -> None:
    """Every float of ``bounds`` is finite and at least the exact value (module docstring)."""
    mask = holds(bounds, exact, upper=True)
    assert mask.all(), f"{what}: not an upper bound at {_first_failure(mask)}"


def assert_lower_bound(bounds: np.ndarray, exact, what: str = "") -> None:
    """Every float of ``bounds`` is finite and at most the exact value."""
    mask = holds(bounds, exact, upper=False)
    assert mask.all(), f"{what}: not a lower bound at {_first_failure(mask)}"


def assert_encloses(enclosure, exact, what: str = "") -> None:
    """``enclosure.lo <= exact <= enclosure.hi`` entrywise, every endpoint finite (an Interval)."""
    assert_lower_bound(enclosure.lo, exact, f"{what} (lo)")
    assert_upper_bound(enclosure.hi, exact, f"{what} (hi)")


MODERATE = 100.0
"""Scores, Ehat entries and eps of at most this magnitude keep every exponent the attention steps form (sums
and differences of a few of them) below 600: no exp overflows, so no enclosure may be NaN."""


def compared(bounds: np.ndarray, moderate: bool) -> np.ndarray:
    """The entries of ``bounds`` a test compares with the truth: every one for a moderate model (NaN then
    fails); otherwise those that are not NaN, the kernel's "not certified" after an exp overflowed (sound:
    no claim is accepted against NaN). At least one entry must be compared."""
    bounds = np.asarray(bounds, dtype=np.float64)
    mask = np.ones(bounds.shape, dtype=bool) if moderate else ~np.isnan(bounds)
    assert mask.any(), "nothing left to compare"
    return mask


def point_in(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exact rationals ``lo + t (hi - lo)``, reals inside the box: ``t`` uniform in [0, 1], or (one draw in
    three) each ``t`` one of 0, 1/2, 1, so corners are tried too."""
    shape = np.shape(lo)
    t = rng.choice([0.0, 0.5, 1.0], size=shape) if rng.random() < 1 / 3 else rng.random(shape)
    low, high = fractions_of(lo), fractions_of(hi)
    return low + fractions_of(t) * (high - low)


def is_positive_definite(matrix: np.ndarray) -> bool:
    """Exactly, for a symmetric Fraction matrix: every pivot of Gaussian elimination without pivoting is > 0
    (Sylvester's criterion, the leading principal minors being the products of the pivots)."""
    rows = [list(row) for row in matrix]
    for k in range(len(rows)):
        pivot = rows[k][k]
        if pivot <= 0:
            return False
        for i in range(k + 1, len(rows)):
            factor = rows[i][k] / pivot
            rows[i] = [a - factor * b for a, b in zip(rows[i], rows[k], strict=True)]
    return True


# ----------------------------------------------------------------------------- exact tables
@dataclass(frozen=True)
class ExactTables:
    """The tables of SPEC 1 (and the parts the subcubic family factors) in exact arithmetic.

    ``eqke``, ``eqkp`` are :class:`OverRoot` over ``s^2``; ``queries`` = Q(q) = (E + P_{n-1}) W_Q + b_Q;
    ``query_side`` = E + P_{n-1}, ``key_side`` = n E + sum_p P_p; ``weights`` maps each tensor name to its
    exact Fractions."""

    eqke: OverRoot
    eqkp: OverRoot
    evou: np.ndarray
    pvou: np.ndarray
    eupu: np.ndarray
    queries: np.ndarray
    query_side: np.ndarray
    key_side: np.ndarray
    weights: dict[str, np.ndarray]

    @property
    def eqke_prime(self) -> OverRoot:
        """EQKE'[q, k] = Q(q) . ((E_k + mean_p P_p) W_K) / s = Q(q) . (key_side_k W_K) / (s n)."""
        n_ctx = self.weights["W_pos"].shape[0]
        ratio = self.queries @ (self.key_side @ self.weights["W_K"]).T
        return OverRoot(ratio, self.eqke.root_squared * n_ctx * n_ctx)


def exact_tables(weights: ModelWeights) -> ExactTables:
    """SPEC 1's tables from the raw float32 weights, with no rounding."""
    w = {name: fractions_of(getattr(weights, name)) for name in WEIGHT_NAMES}
    embed, positions, n_ctx = w["W_E"], w["W_pos"], weights.n_ctx
    query_side = embed + positions[n_ctx - 1]
    queries = query_side @ w["W_Q"] + w["b_Q"]
    scale_squared = Fraction(weights.attn_scale_squared)
    return ExactTables(
        eqke=OverRoot(queries @ (embed @ w["W_K"]).T, scale_squared),
        eqkp=OverRoot(queries @ (positions @ w["W_K"] + w["b_K"]).T, scale_squared),
        evou=embed @ w["W_V"] @ w["W_O"] @ w["W_U"],
        pvou=(positions @ w["W_V"] + w["b_V"]) @ w["W_O"] @ w["W_U"],
        eupu=query_side @ w["W_U"] + w["b_U"] + w["b_O"] @ w["W_U"],
        queries=queries,
        query_side=query_side,
        key_side=embed * n_ctx + positions.sum(axis=0),
        weights=w,
    )


def exp_brackets(exponents: OverRoot, shift: np.ndarray) -> np.ndarray:
    """:class:`Bracket` of ``exp(exponent - shift)`` entrywise (``shift``: exact rationals, broadcast)."""
    ratio, shifts = np.broadcast_arrays(exponents.ratio, np.asarray(shift, dtype=object))
    result = np.empty(ratio.shape, dtype=object)
    with interval_precision(PRECISIONS[0]):
        root = iv.sqrt(_interval(exponents.root_squared))
        for index, value in np.ndenumerate(ratio):
            result[index] = Bracket.of(iv.exp(_interval(value) / root - _interval(shifts[index])))
    return result


def _interval(value: Fraction) -> iv.mpf:
    """An mpmath interval holding the rational ``value``."""
    value = Fraction(value)
    return iv.mpf(value.numerator) / value.denominator


def wrong_outputs(vocab: int) -> np.ndarray:
    """[V, V-1]: row m lists the outputs y != m, ascending (the order of the checker's ``j`` axes)."""
    return np.array([[y for y in range(vocab) if y != m] for m in range(vocab)], dtype=np.int64).reshape(vocab, -1)


def centred(table: np.ndarray) -> np.ndarray:
    """``T'[t, m, j] = T[t, y_j] - T[t, m]`` [rows, V, V-1] over the wrong outputs ``y_j`` of each m (exact)."""
    vocab = table.shape[1]
    return table[:, wrong_outputs(vocab)] - table[:, np.arange(vocab)][:, :, None]


def positional_worst(tables: ExactTables) -> np.ndarray:
    """``pi[m, j] = max_p (PVOU[p, y_j] - PVOU[p, m])`` (exact): the positional value path at its worst."""
    return centred(tables.pvou).max(axis=0)


# ----------------------------------------------------------------------------- sequences
@dataclass(frozen=True)
class SequenceTruth:
    """One sequence's exact attention ``alpha_p`` per position and ``logit_y - logit_m`` per output y != m,
    as :class:`Bracket` values."""

    tokens: tuple[int, ...]
    attention: tuple[Bracket, ...]
    differences: dict[int, Bracket]

    @property
    def query(self) -> int:
        return self.tokens[-1]

    @property
    def label(self) -> int:
        return max(self.tokens)

    def attention_where(self, positions: list[int]) -> Bracket:
        """The total attention of ``positions`` (sums of bracketed reals are bracketed by the sums)."""
        return Bracket(sum((self.attention[p].lo for p in positions), Fraction(0)),
                       sum((self.attention[p].hi for p in positions), Fraction(0)))

    @property
    def attention_on_max(self) -> Bracket:
        """The attention on the positions holding the max token (the query's included when it is the max)."""
        return self.attention_where([p for p, token in enumerate(self.tokens) if token == self.label])

    @property
    def worst_difference(self) -> Bracket:
        """``max_{y != m} (logit_y - logit_m)``: the sequence is correct iff this is negative."""
        return Bracket.maximum(self.differences.values())


def sequence_truths(weights: ModelWeights) -> dict[tuple[int, ...], SequenceTruth]:
    """:class:`SequenceTruth` of every sequence (``d_vocab >= 2``), from the exact integers of
    :func:`tests.exact_reference.exact_paths`: with ``w_g = exp(a_g - a_top)`` per group of positions of
    equal score, ``alpha_p = w_{g(p)} / sum_g |g| w_g`` and
    ``logit_y - logit_m = -(sum_g w_g C_g[y]) / (sum_g |g| w_g) / 2^shift`` with ``C_g[y]`` the integer sum of
    ``D_p[y]`` over the group (exactly 0 when every ``C_g[y]`` is)."""
    paths = exact_paths(weights)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    truths = {}
    with interval_precision(PRECISIONS[0]):
        unit = iv.ldexp(iv.mpf(1), -paths.difference_shift)
        for sequence in itertools.product(range(vocab), repeat=n_ctx):
            query, label = sequence[-1], max(sequence)
            numerators = [int(paths.score[query, token, p]) for p, token in enumerate(sequence)]
            groups: dict[int, list[int]] = {}
            for position, numerator in enumerate(numerators):
                groups.setdefault(numerator, []).append(position)
            top = max(groups)
            keys = list(groups)
            weight = dict(zip(keys, (iv.exp(s) for s in score_enclosures(paths, [k - top for k in keys])),
                              strict=True))
            total = sum((len(groups[key]) * weight[key] for key in keys), iv.mpf(0))
            attention = tuple(Bracket.of(weight[numerator] / total) for numerator in numerators)
            differences = {}
            for y in range(vocab):
                if y == label:
                    continue
                coefficients = {key: sum(int(paths.difference[query, sequence[p], p, label, y]) for p in group)
                                for key, group in groups.items()}
                if not any(coefficients.values()):
                    differences[y] = Bracket(Fraction(0), Fraction(0))
                    continue
                mixed = sum((weight[key] * coefficient for key, coefficient in coefficients.items()), iv.mpf(0))
                differences[y] = Bracket.of(-mixed / total * unit)
            truths[sequence] = SequenceTruth(sequence, attention, differences)
    return truths
