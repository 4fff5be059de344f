"""Subcubic steps A and B (SPEC 5.3): EQKE' = Ehat + Err and per-row bounds ``eps`` of Err's row ranges.

Units. With ``s = sqrt(attn_scale_squared)`` and n positions, the exact factors

    X0 = [E + P_{n-1} | 1]   (V x (d+1)),   X1 = [W_Q ; b_Q]   ((d+1) x h),
    X2 = W_K^T               (h x d),       X3 = (n E + sum_p P_p)^T   (d x V)

(float32 weights, so X0 and X3 are exact dyadic numbers before their one rounding to intervals) satisfy
``X0 X1 X2 X3 = s n EQKE'`` exactly, with ``EQKE'[q, k] = Q(q) . ((E_k + mean_p P_p) W_K) / s``. Every
decomposition is built in these scaled units and multiplied by an enclosure of ``1 / (s n)`` at the end.

Softmax is invariant under adding a constant to a row of scores and ``EQKE' - EQKE`` is constant along
each row (it is ``Q(q) . (mean_p P_p) W_K / s``), so every row difference of EQKE' equals the same row
difference of the table EQKE: ``EQKE[q,i] - EQKE[q,j] = Ehat[q,i] - Ehat[q,j] + Err[q,i] - Err[q,j]``.
The only property the later steps use is

    eps[q] >= max_{i,j} (Err[q, i] - Err[q, j])      (the "max row diff" of Err),

which every function of this module guarantees for the real Err of its decomposition (``.hi`` of the
returned enclosure), for ANY hint directions: the decompositions are exact algebraic identities.

Row-diff inequalities used (``range(r) = max r - min r``):

* product: for ``M = L R``, ``M[q,i] - M[q,j] = sum_k L[q,k] (R[k,i] - R[k,j])``, so
  ``range(M[q,:]) <= sum_k |L[q,k]| range(R[k,:])`` (:func:`max_row_diff`);
* mean row: for any real row vector ``a``, ``M[q,:] = a R + (L[q,:] - a) R``, so
  ``range(M[q,:]) <= range(a R) + sum_k |L[q,k] - a_k| range(R[k,:])`` (:func:`mean_max_row_diff`,
  ``a`` = the enclosed exact column mean of L);
* rank one: ``range((x w^T)[q,:]) = |x_q| range(w)``;
* singular value: ``Err[q,i] - Err[q,j] = Err[q,:] (e_i - e_j) <= sqrt(2) ||Err[q,:]|| <= sqrt(2) sigma_1(Err)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from checker.kernel import Interval
from checker.kernel.exact import inverse_square_root
from checker.schema import HINT, ArraySchema
from checker.tables import Tables

SVD_DECOMPOSITION = ("svd", "max-diff", "mean+max-diff", "max-diff-exact")
SUBPRODUCT_DECOMPOSITION = (
    "max-diff-subproduct",
    "mean+max-diff-subproduct",
    "max-diff-subproduct-recursive",
    "mean+max-diff-subproduct-recursive",
    "mean-recursive+max-diff-subproduct-recursive",
)
ATTENTION_ERROR_KNOBS = ("exact", *SVD_DECOMPOSITION, *SUBPRODUCT_DECOMPOSITION)
SVD_HINTS = ("u", "v")
SUBPRODUCT_HINTS = ("q1", "q2", "k1", "k2", "uq", "uk")


def hint_schema(knob: str) -> dict[str, ArraySchema]:
    """The hint arrays (float64 directions) a knob's decomposition reads."""
    if knob in SVD_DECOMPOSITION:
        return {name: ArraySchema(("V",), "<f8", HINT) for name in SVD_HINTS}
    if knob in SUBPRODUCT_DECOMPOSITION:
        vocab_side = {name: ArraySchema(("V",), "<f8", HINT) for name in SUBPRODUCT_HINTS[:4]}
        return vocab_side | {name: ArraySchema(("d",), "<f8", HINT) for name in SUBPRODUCT_HINTS[4:]}
    return {}


@dataclass(frozen=True)
class QKFactors:
    """Enclosures of X0..X3 (module docstring) and of ``1 / (s n)``."""

    x0: Interval
    x1: Interval
    x2: Interval
    x3: Interval
    unscale: Interval


def qk_factors(tables: Tables) -> QKFactors:
    """The exact factors of ``s n EQKE'`` (:attr:`Tables.query_side`, :attr:`Tables.key_side`), and the
    enclosure of ``1 / (s n)`` (one square root and one division)."""
    weights = tables.weights
    n_ctx = weights.n_ctx
    ones = Interval.exact(np.ones((weights.d_vocab, 1)))
    return QKFactors(
        x0=Interval.concatenate([tables.query_side, ones], axis=1),
        x1=Interval.exact(np.concatenate([weights.W_Q, weights.b_Q[None, :]], axis=0)),
        x2=Interval.exact(weights.W_K.T),
        x3=tables.key_side.T,
        unscale=inverse_square_root(Fraction(weights.attn_scale_squared) * n_ctx * n_ctx),
    )


# ----------------------------------------------------------------------------- row-diff primitives
def max_row_diff(left: Interval, right: Interval) -> Interval:
    """Upper bounds (``.hi``) of ``range((L R)[q, :])``: ``sum_k |L[q,k]| range(R[k,:])``."""
    return left.abs().matmul(right.row_range().reshape(-1, 1)).reshape(-1)


def mean_max_row_diff(left: Interval, right: Interval) -> Interval:
    """Upper bounds of ``range((L R)[q, :])``: ``range(a R) + sum_k |L[q,k] - a_k| range(R[k,:])``, a = mean row."""
    mean = left.mean(axis=0).reshape(1, -1)
    return mean.matmul(right).reshape(-1).row_range() + max_row_diff(left - mean, right)


def _outer(column: Interval, row: Interval) -> Interval:
    return column.reshape(-1, 1).matmul(row.reshape(1, -1))


def _vector_chain(vector: Interval, *matrices: Interval) -> Interval:
    """``vector^T M_1 M_2 ...`` evaluated left to right (vector-matrix products only)."""
    result = vector.reshape(1, -1)
    for matrix in matrices:
        result = result.matmul(matrix)
    return result.reshape(-1)


def _directions(hints: dict[str, np.ndarray], name: str) -> Interval:
    return Interval.exact(np.asarray(hints[name], dtype=np.float64))


# ----------------------------------------------------------------------------- svd (rank one)
@dataclass(frozen=True)
class SvdRemainder:
    """``A B - A0 B0 = Ar Br + u w^T + z v^T`` (scaled units), the exact remainder of the rank-one part.

    With ``A = X0 X1 X2``, ``B = X3``, any reals u, v, ``A0 = u u^T A``, ``B0 = B v v^T``, ``Ar = A - A0``,
    ``Br = B - B0``: ``AB - A0 B0 = A0 Br + Ar B0 + Ar Br`` with ``A0 Br = u (u^T A Br) = u w^T`` and
    ``Ar B0 = (Ar B v) v^T = z v^T`` (FIX of SPEC 5.3: no exactness of u, v is assumed).
    """

    ar: Interval
    br: Interval
    u: Interval
    w: Interval
    z: Interval
    v: Interval


def svd_decomposition(factors: QKFactors, hints: dict[str, np.ndarray]) -> tuple[Interval, SvdRemainder]:
    """``Ehat = A0 B0 = (u^T A B v) u v^T`` in true units, and the exact remainder in scaled units."""
    u, v = _directions(hints, "u"), _directions(hints, "v")
    a = factors.x0.matmul(factors.x1).matmul(factors.x2)
    b = factors.x3
    u_a = _vector_chain(u, a)  # u^T A
    b_v = b.matmul(v.reshape(-1, 1)).reshape(-1)  # B v
    ar = a - _outer(u, u_a)
    br = b - _outer(b_v, v)
    remainder = SvdRemainder(
        ar=ar, br=br, u=u, w=_vector_chain(u_a, br), z=ar.matmul(b_v.reshape(-1, 1)).reshape(-1), v=v
    )
    strength = (u_a * b_v).sum(axis=0) * factors.unscale
    return _outer(u, v) * strength, remainder


def _rank_one_row_diffs(remainder: SvdRemainder) -> Interval:
    """Row-range bounds of ``u w^T + z v^T``: ``|u_q| range(w) + |z_q| range(v)``."""
    return remainder.u.abs() * remainder.w.row_range() + remainder.z.abs() * remainder.v.row_range()


def _norm(vector: Interval) -> Interval:
    """Enclosure of the Euclidean norm (a sum of squares is >= 0, so the square root is defined)."""
    magnitude = vector.abs()
    return (magnitude * magnitude).sum(axis=0).known_nonnegative().sqrt()


def sigma1_upper(left: Interval, right: Interval, squarings: int = 3) -> Interval:
    """An enclosure whose ``.hi`` bounds ``sigma_1(L R)`` from above, at cost O(k d^2 + d^3).

    ``H = (L^T L)(R R^T)`` (d x d) has the eigenvalues ``sigma_i(L R)^2`` and zeros (``X Y`` and ``Y X``
    share nonzero eigenvalues), so ``trace(H^(2^t)) = sum_i sigma_i^(2^(t+1)) >= sigma_1^(2^(t+1))``.
    With ``G = H^(2^(t-1))`` (``t - 1`` squarings), ``trace(G G) = sum_ij G_ij G_ji``; the trace is real
    and nonnegative, so its lower endpoint is clamped at 0 before the ``2^(t+1)``-th root (square roots).
    """
    gram = left.T.matmul(left).matmul(right.matmul(right.T))
    for _ in range(squarings - 1):
        gram = gram.matmul(gram)
    trace = (gram * gram.T).sum(axis=1).sum(axis=0)
    root = trace.known_nonnegative()
    for _ in range(squarings + 1):
        root = root.sqrt()
    return root


def svd_error_bounds(knob: str, remainder: SvdRemainder) -> Interval:
    """Scaled ``eps`` of the svd-decomposition knobs ``svd``, ``max-diff``, ``mean+max-diff``."""
    vocab = remainder.u.shape[0]
    if knob == "svd":
        sigma = (
            sigma1_upper(remainder.ar, remainder.br)
            + _norm(remainder.u) * _norm(remainder.w)
            + _norm(remainder.z) * _norm(remainder.v)
        )
        return (sigma * Interval.exact(2.0).sqrt()).broadcast_to((vocab,))
    bound = max_row_diff if knob == "max-diff" else mean_max_row_diff
    return bound(remainder.ar, remainder.br) + _rank_one_row_diffs(remainder)


# ----------------------------------------------------------------------------- subproduct
@dataclass(frozen=True)
class Subproduct:
    """``X0 X1 X2 X3 = left @ right + m0 m1 m2 m3`` (scaled units), ``left`` V x 6, ``right`` 6 x V.

    Rank-one splits, for any real hint vectors: ``P0a = X0 - q1 (q1^T X0)``, ``m0 = P0a - q2 (q2^T P0a)``;
    ``m1 = X1 - uq' (uq'^T X1)`` with ``uq' = [uq; 0]``; ``m2 = X2 - (X2 uk) uk^T``;
    ``P3a = X3 - (X3 k1) k1^T``, ``m3 = P3a - (P3a k2) k2^T``; ``R_i = X_i - m_i``. Telescoping,
    ``X0X1X2X3 - m0m1m2m3 = R0 X1X2X3 + m0 R1 X2X3 + m0 m1 R2 X3 + m0 m1 m2 R3``, and each term is a
    sum of at most two outer products (the columns of ``left`` against the rows of ``right``), all
    evaluated with matrix-vector products (O(V d + d^2)).
    """

    left: Interval
    right: Interval
    m: tuple[Interval, Interval, Interval, Interval]


def _column_chain(*matrices_then_vector: Interval) -> Interval:
    """``M_1 M_2 ... v`` evaluated right to left (matrix-vector products only)."""
    *matrices, vector = matrices_then_vector
    result = vector.reshape(-1, 1)
    for matrix in reversed(matrices):
        result = matrix.matmul(result)
    return result.reshape(-1)


def subproduct_decomposition(factors: QKFactors, hints: dict[str, np.ndarray]) -> tuple[Interval, Subproduct]:
    """``Ehat = left @ right`` in true units, and the :class:`Subproduct` (scaled units)."""
    x0, x1, x2, x3 = factors.x0, factors.x1, factors.x2, factors.x3
    q1, q2, k1, k2, uq, uk = (_directions(hints, name) for name in SUBPRODUCT_HINTS)
    uq = Interval.concatenate([uq, Interval.exact(np.zeros(1))])
    t1 = _vector_chain(q1, x0)
    p0a = x0 - _outer(q1, t1)
    t2 = _vector_chain(q2, p0a)
    m0 = p0a - _outer(q2, t2)
    s1 = _vector_chain(uq, x1)
    m1 = x1 - _outer(uq, s1)
    r2 = _column_chain(x2, uk)
    m2 = x2 - _outer(r2, uk)
    y1 = _column_chain(x3, k1)
    p3a = x3 - _outer(y1, k1)
    y2 = _column_chain(p3a, k2)
    m3 = p3a - _outer(y2, k2)
    columns = [
        q1, q2, _column_chain(m0, uq), _column_chain(m0, m1, r2), _column_chain(m0, m1, m2, y1),
        _column_chain(m0, m1, m2, y2),
    ]
    rows = [
        _vector_chain(t1, x1, x2, x3), _vector_chain(t2, x1, x2, x3), _vector_chain(s1, x2, x3),
        _vector_chain(uk, x3), k1, k2,
    ]
    left, right = Interval.stack(columns, axis=1), Interval.stack(rows, axis=0)
    return left.matmul(right) * factors.unscale, Subproduct(left=left, right=right, m=(m0, m1, m2, m3))


def subproduct_error_bounds(knob: str, parts: Subproduct) -> Interval:
    """Scaled ``eps`` of the subproduct knobs (SPEC 5.3 step B), for ``Err = m0 m1 m2 m3``.

    The split knobs form the partial products (O(V d^2)); the recursive ones only matrix-vector products.
    """
    m0, m1, m2, m3 = parts.m
    if knob in ("max-diff-subproduct", "mean+max-diff-subproduct"):
        bound = max_row_diff if knob == "max-diff-subproduct" else mean_max_row_diff
        m01, m23 = m0.matmul(m1), m2.matmul(m3)
        splits = ((m0, m1.matmul(m23)), (m01, m23), (m01.matmul(m2), m3))
        result = bound(*splits[0])
        for split in splits[1:]:
            result = result.minimum(bound(*split))
        return result
    every_level = knob == "mean-recursive+max-diff-subproduct-recursive"
    ranges = m3.row_range()
    for level, (factor, below) in enumerate(((m2, (m3,)), (m1, (m2, m3)), (m0, (m1, m2, m3)))):
        if every_level or (level == 2 and knob == "mean+max-diff-subproduct-recursive"):
            mean = factor.mean(axis=0)
            centred = (factor - mean.reshape(1, -1)).abs()
            ranges = _vector_chain(mean, *below).row_range() + _column_chain(centred, ranges)
        else:
            ranges = _column_chain(factor.abs(), ranges)
    return ranges


# ----------------------------------------------------------------------------- dispatch
def eqke_decomposition(knob: str, tables: Tables, hints: dict[str, np.ndarray]) -> tuple[Interval, Interval]:
    """``(Ehat, eps)`` in true units for an attention-error knob: ``Ehat`` [V, V] encloses the real
    approximation, ``eps.hi`` [V] bounds the row ranges of ``Err = EQKE' - Ehat`` (module docstring)."""
    if knob == "exact":
        return tables.eqke, Interval.exact(np.zeros(tables.weights.d_vocab))
    factors = qk_factors(tables)
    if knob in SVD_DECOMPOSITION:
        ehat, remainder = svd_decomposition(factors, hints)
        if knob == "max-diff-exact":
            # Err's row ranges equal those of EQKE - Ehat (constant row shift).
            return ehat, (tables.eqke - ehat).row_range()
        return ehat, svd_error_bounds(knob, remainder) * factors.unscale
    if knob in SUBPRODUCT_DECOMPOSITION:
        ehat, parts = subproduct_decomposition(factors, hints)
        return ehat, subproduct_error_bounds(knob, parts) * factors.unscale
    raise ValueError(f"unknown attention-error knob {knob!r}")
