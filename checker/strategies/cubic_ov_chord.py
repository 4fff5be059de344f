"""Cubic with chord-coupled OV paths (``cubic-ov-chord``): a sound tightening of SPEC 5.2, not in the paper.

The cubic bound charges a non-max token k its worst output separately from the max token:
``A_max h[m] + A_k h[k]`` with ``h[t] = max_y ov[t, y]`` (``ov`` as in
:mod:`checker.strategies.cubic_bounds`, centred on m). The two maxima sit at different outputs (``h[k]``
at ``y = k``, where ``ov[m, k]`` is very negative), which loses about 4% of the sequences on the zoo.
Coupling them: with ``P`` the total share of the slots holding m (the query slot included when q = m),
``K`` that of the slots holding k and ``lam = K / (P + K)``,

    P ov[m, y] + K ov[k, y] = (P + K) ((1 - lam) ov[m, y] + lam ov[k, y]) <= (P + K) g_k(lam),

``g_k(lam) = max_y ((1 - lam) ov[m, y] + lam ov[k, y])`` is convex, ``g_k(0) = h[m]``, so on
``0 <= lam <= w`` (a chord weight ``w`` in (0, 1]) it lies below its chord:
``g_k(lam) <= h[m] + lam s_k`` with ``s_k = (g_k(w) - h[m]) / w``. Then
``P ov[m, y] + K ov[k, y] <= P h[m] + K (h[m] + s_k)``: the cubic bound with ``coef[k, m, c] = h[m] + s_k``
at ``w = weight[m, c]`` (``w = 1`` gives back ``h[k]``).

Side condition, checked for every case with ``c >= 1``: ``lam <= w`` for every arrangement; a case that
fails it is not good (it loses tightness, never soundness). ``lam`` is monotone in the positional weight
of the max slots, so the larger ``lam.hi`` of the two configurations of
:func:`checker.strategies.attention.extreme_attention` bounds it. Mixtures of good tokens (the counting of
:mod:`checker.strategies.cubic_bounds`): ``lam`` grows with each non-max token's factor, so a mixture's
``lam`` is at most that of the case of its largest-factor token, hence ``<= w``; and with
``K = sum_i alpha_i``, ``P ov[m] + sum_i alpha_i ov[k_i] = sum_i (alpha_i / K) (P ov[m] + K ov[k_i])``
is bounded term by term, giving the per-slot values ``h[m] + s_{k_i}`` that the counting argument needs.

Trace (:data:`SCHEMA`): ``orderings`` as in :mod:`checker.strategies.cubic`, then a step ``chords``
holding ``weight`` [V (m), n (c)] (<f8), every entry in (0, 1] (a hint: any such value is sound), then
``selection`` as in ``cubic``. As there, the checker bounds the selected cases itself; the certificate
holds no per-case data.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from checker.kernel import Interval
from checker.kernel.compare import greater, less_equal
from checker.replay import InvalidCertificate, first_index
from checker.schema import HINT, ArraySchema, StepSchema, Trace, TraceSchema
from checker.strategies import ReplayResult, Strategy, register
from checker.strategies.cubic import (
    ORDERINGS,
    SELECTION,
    SELECTION_STEP,
    CaseBlock,
    cubic_result,
    proven_blocks,
    read_orderings,
)
from checker.strategies.cubic_bounds import MAX, OTHER, QUERY, LogitPaths, case_attention, cubic_work, logit_paths
from checker.tables import Tables

NAME = "cubic-ov-chord"
CHORD_STEP = "chords"
SCHEMA = TraceSchema((ORDERINGS, StepSchema(CHORD_STEP, {"weight": ArraySchema(("V", "n"), "<f8", HINT)}), SELECTION))


def replay_cubic_ov_chord(trace: Trace, tables: Tables) -> ReplayResult:
    return cubic_result(chord_blocks(trace, tables))


def chord_blocks(trace: Trace, tables: Tables) -> Iterator[CaseBlock]:
    """The good cases of the chord bound (with its side condition) along the trace's hints, block by block."""
    order = read_orderings(trace)
    weight = read_chord_weights(trace)
    paths = logit_paths(tables)
    return proven_blocks(
        tables, case_attention(tables, order), paths, chord_coefficient(paths, weight),
        trace[SELECTION_STEP]["triples"], lambda attention, cases: chord_condition_holds(attention, cases, weight),
    )


def read_chord_weights(trace: Trace) -> np.ndarray:
    """The ``chords`` step: ``weight`` [V, n], every entry in (0, 1]."""
    weight = trace[CHORD_STEP]["weight"]
    outside = ~(greater(weight, 0.0) & less_equal(weight, 1.0))
    if outside.any():
        raise InvalidCertificate(CHORD_STEP, "weight", first_index(outside), "chord weight outside (0, 1]")
    return weight


def chord_coefficient(paths: LogitPaths, weight: np.ndarray) -> Interval:
    """``coef[k, m, c] = h[m] + (g_k(w) - h[m]) / w`` with ``w = weight[m, c]`` (module docstring)."""
    tokens = np.arange(weight.shape[0])
    own = paths.ov[tokens, tokens]  # [m, j]
    own_weight = Interval.exact(1.0) - weight  # [m, c]
    mixed = own[None, :, None, :] * own_weight[None, :, :, None]
    mixed = mixed + paths.ov[:, :, None, :] * weight[None, :, :, None]
    own_max = paths.h[tokens, tokens][None, :, None]
    return own_max + (mixed.max(axis=-1) - own_max) / weight[None]


def share_ratio(attention: Interval, cases: tuple[np.ndarray, ...]) -> Interval:
    """Enclosures [2, cases with c >= 1] of ``lam = K / (P + K)`` in the two configurations, from the
    shares ``attention`` [2, 3, cases with c >= 1] of :func:`case_bounds` (in order); the larger upper end
    bounds ``lam`` over every arrangement."""
    q, m = (axis[cases[3] > 0] for axis in cases[:2])
    on_max = Interval.where(q == m, attention[:, MAX] + attention[:, QUERY], attention[:, MAX])
    return Interval.shares(Interval.stack([on_max, attention[:, OTHER]]))[1]


def chord_condition_holds(attention: Interval, cases: tuple[np.ndarray, ...], weight: np.ndarray) -> np.ndarray:
    """Mask over the cases with ``c >= 1``: ``lam <= weight[m, c]`` proven in both configurations."""
    copies = cases[3] > 0
    ratio = share_ratio(attention, cases)
    return np.asarray(ratio.bounded_above_by(weight[cases[1][copies], cases[3][copies]][None]).all(axis=0))


register(Strategy(NAME, SCHEMA, replay_cubic_ov_chord, cubic_work))
