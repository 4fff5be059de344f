"""Feasibility of a hybrid strategy (issue 15): the cubic-ov-chord cases, then the sequences they miss.

For each model: the cubic-ov-chord and brute-force certificates (proved on the CPU, written, checked by
the checker's ``verify``: claim and FLOPs); the brute-force truth per sequence
(:func:`checker.strategies.brute_force.certified_sequences`); the residual, i.e. the sequences of the
``(q, m, c)`` cells not covered by the good cases of the chord certificate's own replay (a sequence is
covered when every non-max, non-query token of it is a good ``k`` of its cell, SPEC 5.2; the script asserts
that the covered sequences number exactly the verdict's count and are all brute-force-certified).

The residual is then decided in levels, each with the checker's own kernel (Interval / LowerBound) under
its FLOP counter. The exact tables are charged to the cubic part already, so every level is charged only
for its own operations (and for the side conditions of the cells the cubic selection did not bound):

* ``stage2_all``: the brute force's stage 2 (:func:`checker.strategies.brute_force._stage2`) on every
  residual sequence (the plain "cubic + enumerate the uncertified cases" hybrid);
* L1, the cubic inequality at the sequence's own positions and tokens, ``sum_p e_p (u + v(x_p)) < 0``
  (no arrangement pessimisation, no mixture dominance): per residual cell ``(q, m, c)`` a table
  ``e_p(t) (u + coef(t))`` over ``(t, p)`` with the chord coefficient (when the chord side condition holds
  for every non-max token of the sequence) or ``h`` (always valid), then n FLOPs per sequence;
* L2, the brute force's stage 1 restricted to the ``(m, t, p)`` slots that L1's leftovers use (one
  ``[V]`` row ``L[slot, y] <= e_p(t) D[t, p, m, y]`` per slot, the query-independent part of ``D`` built
  once per ``(t, p, m)``, then the row's min over ``y != m``), n FLOPs per sequence;
* L2h, from the same rows: ``sum_p L_p[y] > 0`` for the K hinted "hard" outputs ``y`` of the max token
  (``--hard K``, the prover's hint: per max, the most frequent slot minimisers) and
  ``sum_p min_{y' not hard, != m} L_p[y'] > 0`` for all the others, n (K + 1) FLOPs per sequence;
* L2b, ``sum_p L_p[y] > 0`` for every ``y != m`` from the same rows (stage 2 with a query-wide shift
  instead of a per-sequence one), n V FLOPs per sequence;
* L3, stage 2 on what is left (it certifies nothing on the models measured: what is left is wrong);
* the goal selection: the fewest L2 + L2h + L2b FLOPs (greedy over ``(q, m)`` pairs, best count per FLOP
  first; each level's FLOPs of a query split evenly over the sequences it saw) that reach 0.9999 of the
  brute-force count after L1.

The script also counts what a level certifies that the brute force does not (``certified_not_in_truth``,
0 on every model measured), and splits the brute force's FLOPs into its stage-1 tables, its stage-1
filter (n per sequence) and the rest (its stage 2). One process on the CPU, 30 s to 75 s and about
0.65 GB per model.

    python bench/hybrid_feasibility.py [MODEL ...] [--hard K] [--json PATH]

Without MODEL: models/max4-v64-d32-seed123.safetensors. Figures: docs/hybrid-design.md.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from certificates.model_file import load_model
from checker import strategies as checker_strategies
from checker.kernel import Interval, LowerBound, flops
from checker.schema import Sizes
from checker.strategies import brute_force as bf
from checker.strategies.cubic import SELECTION_STEP, read_orderings
from checker.strategies.cubic_bounds import case_attention, case_bounds, logit_paths, softmax_factors
from checker.strategies.cubic_ov_chord import chord_blocks, chord_coefficient, chord_condition_holds, read_chord_weights
from checker.tables import Tables
from checker.verify import verify
from prover import strategies
from prover.certify import prove
from prover.writers import write_certificate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "max4-v64-d32-seed123.safetensors"
TARGET = 0.9999
GOAL_RATIO = 10


def proved_and_checked(model_path: Path, weights, name: str, folder: Path):
    """The certificate of strategy ``name`` (proved on the CPU) and the checker's verdict on its file."""
    certificate, _ = prove(weights, strategies.lookup(name), torch.device("cpu"))
    path = folder / f"{name}.cert"
    write_certificate(path, certificate)
    verdict = verify(path, model_path)
    assert verdict.status == "VALID", verdict.message
    return certificate, verdict


def query_rows(vocab: int, n_ctx: int) -> np.ndarray:
    """[V^(n-1), n-1]: every assignment of the non-query positions, in C order (x_0 most significant)."""
    return np.indices((vocab,) * (n_ctx - 1)).reshape(n_ctx - 1, -1).T


def charged(function, tables: Tables):
    """``function()`` and the FLOPs it executes beyond reading the tables (charged to the cubic part)."""
    with flops.counting() as counter:
        _ = (tables.eqke, tables.eqkp, tables.evou, tables.pvou, tables.eupu)
        before = counter.flops
        result = function()
    return result, counter.flops - before


class Levels:
    """The residual levels (module docstring), from the parts the chord replay computed."""

    def __init__(self, tables: Tables, trace) -> None:
        self.tables = tables
        self.vocab, self.n_ctx = tables.weights.d_vocab, tables.weights.n_ctx
        self.weight = read_chord_weights(trace)
        self.selected = trace[SELECTION_STEP]["triples"]
        self.factors = case_attention(tables, read_orderings(trace))
        self.position = softmax_factors(tables)[1]  # e_p factors [V, L], as case_attention computes them
        self.paths = logit_paths(tables)
        self.chord = chord_coefficient(self.paths, self.weight)  # [k, m, c]
        self.good = np.concatenate([block.good for block in chord_blocks(trace, tables)], axis=0)
        self.differences: tuple[LowerBound, LowerBound] | None = None
        self.shared = np.full((self.vocab, self.n_ctx, self.vocab, self.vocab), np.nan)  # [t, p, m, y]
        self.computed = np.zeros((self.vocab, self.n_ctx, self.vocab), dtype=bool)

    def side_conditions(self, q: int, cells: np.ndarray) -> np.ndarray:
        """[V (m), V (k), n (c)]: the chord side condition of the cases ``(q, m, k < m, c)`` of the cells
        ``(m, c)`` [C, 2] (False elsewhere), computed as the chord replay does."""
        side = np.zeros((self.vocab, self.vocab, self.n_ctx), dtype=bool)
        ms, ks = np.nonzero(np.arange(self.vocab)[None, :] < cells[:, :1])
        if ms.size:
            m, c = cells[ms, 0], cells[ms, 1]
            cases = (np.full(ks.size, q), m, ks, c)
            _, attention = case_bounds(self.factors, cases, self.paths, self.chord)
            side[m, ks, c] = chord_condition_holds(attention, cases, self.weight)
        return side

    def level1(self, q: int, tokens: np.ndarray, maxima: np.ndarray, copies: np.ndarray) -> np.ndarray:
        """L1 on the sequences ``tokens`` [R, L] (query q, maxima, copies ``c >= 1``)."""
        vocab, slots = self.vocab, self.n_ctx - 1
        paths, token, query = self.paths, self.factors.token, self.factors.query
        cells, cell_of = np.unique(maxima * self.n_ctx + copies, return_inverse=True)
        cells = np.stack([cells // self.n_ctx, cells % self.n_ctx], axis=1)
        known = self.selected[q][cells[:, 0], cells[:, 1]]
        with flops.counting():  # computed by the chord replay for the selected cells
            side = self.side_conditions(q, cells[known])
        side |= self.side_conditions(q, cells[~known])
        pairs, pair_of = np.unique(maxima, return_inverse=True)
        slot = token[q][:, None] * self.position[q][None, :]  # e_p(t) [V, L]
        chord = (paths.u[q][cells[:, 0]][:, None] + self.chord[:, cells[:, 0], cells[:, 1]].T)  # [C, V]
        cubic = (paths.u[q][pairs][:, None] + paths.h[:, pairs].T)  # [P, V]
        chord_table = slot[None] * chord[:, :, None]  # [C, V, L]
        cubic_table = slot[None] * cubic[:, :, None]  # [P, V, L]
        query_term = query[q] * (paths.u[q][pairs] + paths.h[q][pairs])  # [P]
        non_max = tokens < maxima[:, None]
        side_ok = np.all(side[maxima[:, None], tokens, copies[:, None]] | ~non_max, axis=1)
        positions = np.arange(slots)[None, :]
        flat = Interval.concatenate([chord_table.reshape(-1), cubic_table.reshape(-1)])
        chord_index = (cell_of[:, None] * vocab + tokens) * slots + positions
        cubic_index = chord_table.size + (pair_of[:, None] * vocab + tokens) * slots + positions
        terms = flat[np.where(side_ok[:, None], chord_index, cubic_index)]  # [R, L]
        terms = Interval.concatenate([terms, query_term[pair_of][:, None]], axis=1)
        return terms.sum(axis=1).strictly_below(0.0)

    def level2(self, q: int, tokens: np.ndarray, maxima: np.ndarray):
        """L2 on the sequences ``tokens`` [R, L]: the mask of those certified, the rows ``L[slot, y]``, the
        slot of each sequence's positions [R, n] and the max token of each slot."""
        tables, vocab, n_ctx = self.tables, self.vocab, self.n_ctx
        if self.differences is None:  # query independent, once per replay
            tokens_all = np.arange(vocab)
            evou, pvou = tables.evou, tables.pvou
            self.differences = (
                evou[:, tokens_all, None].lower() - evou[:, None, :],  # [t, m, y]
                pvou[:, tokens_all, None].lower() - pvou[:, None, :],  # [p, m, y]
            )
        evou_diff, pvou_diff = self.differences
        full = np.concatenate([tokens, np.full((tokens.shape[0], 1), q)], axis=1)  # [R, n]
        keys = (maxima[:, None] * vocab + full) * n_ctx + np.arange(n_ctx)[None, :]
        unique, slot_of = np.unique(keys, return_inverse=True)
        m, t, p = unique // (vocab * n_ctx), (unique // n_ctx) % vocab, unique % n_ctx
        new = ~self.computed[t, p, m]  # the output differences of a (t, p, m) slot, once per replay
        if new.any():
            tn, pn, mn = t[new], p[new], m[new]
            self.shared[tn, pn, mn] = (evou_diff[tn, mn] + pvou_diff[pn, mn]).lo
            self.computed[tn, pn, mn] = True
        scores = tables.eqke[q][:, None] + tables.eqkp[q][None, :]  # [t, p]
        weights = (scores - scores.reshape(-1).anchor(axis=0)).exp()
        needed, m_of = np.unique(m, return_inverse=True)
        unembed = bf._unembed_differences(tables.eupu_rows(np.array([q]))[0], needed)  # [M, y]
        rows = (unembed[m_of] + LowerBound(self.shared[t, p, m])).weighted(weights[t, p])  # [U, y]
        slot_min = rows.min(axis=1, without=(np.arange(unique.size), m))
        slot_of = slot_of.reshape(full.shape)
        return slot_min[slot_of].sum_certainly_positive(axis=1), rows, slot_of, m

    @staticmethod
    def hard_outputs(rows: LowerBound, slot_of: np.ndarray, maxima: np.ndarray, vocab: int, k: int) -> np.ndarray:
        """The prover's hint for L2h (not charged, any value is sound): per max token m [V, k], the k
        outputs ``y != m`` that are most often a slot's minimiser among the sequences ``slot_of`` [R, n]."""
        lo = rows.lo.copy()
        slot_m = np.repeat(maxima[:, None], slot_of.shape[1], axis=1)
        lo[slot_of, slot_m] = np.inf
        argmin = lo[slot_of].argmin(axis=2)  # [R, n]
        hard = np.empty((vocab, k), dtype=np.int64)
        for m in range(vocab):
            counts = np.bincount(argmin[maxima == m].reshape(-1), minlength=vocab).astype(float)
            counts[m] = -1.0  # never m itself
            counts += np.arange(vocab)[::-1] * 1e-9  # a fixed order among ties
            hard[m] = np.argsort(-counts, kind="stable")[:k]
        return hard

    @staticmethod
    def level2h(rows: LowerBound, slot_of: np.ndarray, slot_max: np.ndarray, maxima: np.ndarray,
                hard: np.ndarray) -> np.ndarray:
        """L2h on the sequences ``slot_of`` [R, n] (maxima [R]): ``sum_p L_p[y] > 0`` for the hinted hard
        outputs ``y`` of the sequence's max, and ``sum_p min_{y' not hard, != m} L_p[y'] > 0`` for the
        rest (which bounds ``sum_p L_p[y]`` below for every other ``y``)."""
        used, local = np.unique(slot_of, return_inverse=True)
        lo = rows.lo[used].copy()  # masking the hard outputs and m is indexing (free), like ``without``
        lo[np.arange(used.size)[:, None], hard[slot_max[used]]] = np.inf
        lo[np.arange(used.size), slot_max[used]] = np.inf
        rest = LowerBound(lo).min(axis=1)
        rest_ok = rest[local.reshape(slot_of.shape)].sum_certainly_positive(axis=1)
        hard_values = LowerBound(rows.lo[slot_of[:, :, None], hard[maxima][:, None, :]])  # [R, n, k]
        return rest_ok & hard_values.sum_certainly_positive(axis=1).all(axis=1)

    @staticmethod
    def level2b(rows: LowerBound, slot_of: np.ndarray, maxima: np.ndarray) -> np.ndarray:
        """L2b: ``sum_p L_p[y] > 0`` for every ``y != m``, from the rows of :meth:`level2`."""
        proven = rows[slot_of].sum_certainly_positive(axis=1)  # [R, y]
        proven[np.arange(maxima.size), maxima] = True
        return proven.all(axis=1)


def stage2(tables: Tables, q: int, tokens: np.ndarray, maxima: np.ndarray) -> np.ndarray:
    """The brute force's stage 2 on the sequences ``tokens`` [R, L] with query ``q``."""
    if tokens.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return bf._stage2(tables, q, maxima, tokens, partial(bf._sequence_differences, tables))


def brute_force_split(tables: Tables) -> dict[str, int]:
    """The brute force's FLOPs for its stage-1 tables (output differences and per-query tables, as
    :func:`checker.strategies.brute_force.certified_sequences` builds them) and its stage-1 filter."""
    vocab, n_ctx = tables.weights.d_vocab, tables.weights.n_ctx

    def tables_only() -> None:
        for maxima in bf._chunks(vocab, n_ctx, 0):
            shared = bf._output_differences(tables, maxima)
            for query in range(maxima.stop):
                bf._stage1_table(tables, shared, query, maxima)

    _, table_flops = charged(tables_only, tables)
    return {"stage1_tables": table_flops, "stage1_filter": n_ctx * vocab**n_ctx}


def greedy_cost(gain: np.ndarray, cost: np.ndarray, needed: int) -> tuple[int, int]:
    """The cost and number of the groups, best gain per cost first, whose gains first reach ``needed``
    (``(-1, -1)`` if all of them together do not)."""
    if needed <= 0:
        return 0, 0
    order = np.argsort(-(gain / np.maximum(cost, 1)), kind="stable")
    reached = np.cumsum(gain[order])
    if reached[-1] < needed:
        return -1, -1
    last = int(np.searchsorted(reached, needed))
    return int(cost[order][: last + 1].sum()), last + 1


def analyse(model_path: Path, hard_count: int) -> dict[str, object]:
    start = time.perf_counter()
    weights = load_model(model_path)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    total = vocab**n_ctx
    with tempfile.TemporaryDirectory() as folder:
        chord_cert, chord_verdict = proved_and_checked(model_path, weights, "cubic-ov-chord", Path(folder))
        _, brute_verdict = proved_and_checked(model_path, weights, "brute-force", Path(folder))
    tables = Tables(weights)
    truth = bf.certified_sequences(tables)
    trace = checker_strategies.lookup("cubic-ov-chord").schema.read(chord_cert.trace, Sizes.of(weights))
    levels = Levels(tables, trace)
    rows = query_rows(vocab, n_ctx)
    names = ("l1", "l2", "l2h", "l2b", "l3")
    count = dict.fromkeys(("covered", "residual", "residual_true", "stage2_all", *names), 0)
    spent = dict.fromkeys(("stage2_all", *names), 0)
    left_after = dict.fromkeys(names, 0)
    left_true = dict.fromkeys(names, 0)
    unsound = dict.fromkeys(names, 0)
    by_copies = np.zeros((2, n_ctx), dtype=np.int64)  # [q == m, c]: residual sequences
    slots_l2 = 0
    pairs_gain, pairs_cost = [], []
    for q in range(vocab):
        maxima = np.maximum(rows.max(axis=1), q)
        non_max = rows < maxima[:, None]
        copies = non_max.sum(axis=1)
        in_good = levels.good[q][maxima[:, None], np.where(non_max, rows, maxima[:, None]), copies[:, None]]
        covered = np.where(copies == 0, in_good[:, 0], np.all(in_good | ~non_max, axis=1))
        right = truth[..., q].reshape(-1)
        assert not np.any(covered & ~right), "a cubic-covered sequence the brute force does not certify"
        count["covered"] += int(covered.sum())
        residual = np.flatnonzero(~covered)
        if residual.size == 0:
            continue
        count["residual"] += residual.size
        count["residual_true"] += int(right[residual].sum())
        np.add.at(by_copies, ((maxima[residual] == q).astype(int), copies[residual]), 1)
        toks, mx, cp, ok = rows[residual], maxima[residual], copies[residual], right[residual]

        decided, cost = charged(partial(stage2, tables, q, toks, mx), tables)
        count["stage2_all"] += int(decided.sum())
        spent["stage2_all"] += cost

        alive = np.arange(residual.size)  # indices into the residual of those still undecided
        level_of = np.full(residual.size, -1)  # the level that certified each sequence
        share = np.zeros(residual.size)  # FLOPs of the levels after L1, split over the sequences they saw
        rows2 = slot_max = slot_full = None
        for index, name in enumerate(names):
            if alive.size == 0:
                break
            if name == "l1":
                mixed = alive[cp[alive] > 0]  # c = 0: the cubic's own bound is already exact in positions
                passed = np.zeros(alive.size, dtype=bool)
                cost = 0
                if mixed.size:
                    passed[cp[alive] > 0], cost = charged(
                        partial(levels.level1, q, toks[mixed], mx[mixed], cp[mixed]), tables
                    )
            elif name == "l2":
                (passed, rows2, slot_of, slot_max), cost = charged(
                    partial(levels.level2, q, toks[alive], mx[alive]), tables
                )
                slots_l2 += rows2.shape[0]
                slot_full = np.full((residual.size, n_ctx), -1)
                slot_full[alive] = slot_of
            elif name == "l2h":
                mine = slot_full[alive]
                hard = Levels.hard_outputs(rows2, mine, mx[alive], vocab, hard_count)
                passed, cost = charged(partial(Levels.level2h, rows2, mine, slot_max, mx[alive], hard), tables)
            elif name == "l2b":
                mine = slot_full[alive]
                passed, cost = charged(partial(Levels.level2b, rows2, mine, mx[alive]), tables)
            else:
                passed, cost = charged(partial(stage2, tables, q, toks[alive], mx[alive]), tables)
            spent[name] += cost
            count[name] += int(passed.sum())
            unsound[name] += int(np.count_nonzero(passed & ~ok[alive]))
            level_of[alive[passed]] = index
            if name in ("l2", "l2h", "l2b"):
                share[alive] += cost / alive.size
            alive = alive[~passed]
            left_after[name] += alive.size
            left_true[name] += int(ok[alive].sum())
        # per (q, m) pair: what L2, L2h and L2b gain and cost (each level's FLOPs split over its sequences)
        gained = (level_of >= 1) & (level_of <= 3)
        pairs_gain.append(np.bincount(mx, weights=gained, minlength=vocab))
        pairs_cost.append(np.bincount(mx, weights=share, minlength=vocab))

    brute_count, brute_flops, chord_flops = brute_verdict.certified_count, brute_verdict.flops, chord_verdict.flops
    assert count["covered"] == chord_verdict.certified_count, "the residual does not complement the cubic count"
    split = brute_force_split(tables)
    per_stage2 = spent["stage2_all"] / count["residual"]
    split["stage2"] = brute_flops - split["stage1_tables"] - split["stage1_filter"]
    goal_count = math.ceil(TARGET * brute_count)
    cumulative = {}
    running_count, running_flops = count["covered"], chord_flops
    for name in names:
        running_count += count[name]
        running_flops += spent[name]
        cumulative[name] = {
            "count": running_count, "flops": running_flops,
            "of_brute_count": running_count / brute_count, "of_brute_flops": running_flops / brute_flops,
        }
    after_l1_count, after_l1_flops = count["covered"] + count["l1"], chord_flops + spent["l1"]
    pair_cost, pairs_used = greedy_cost(
        np.concatenate(pairs_gain), np.concatenate(pairs_cost), goal_count - after_l1_count
    )
    selected_total = after_l1_flops + pair_cost if pair_cost >= 0 else None
    return {
        "model": model_path.name,
        "V^n": total,
        "cubic_ov_chord": {"claim": chord_verdict.claimed, "flops": chord_flops,
                           "bound": chord_verdict.claimed / total},
        "brute_force": {"claim": brute_count, "flops": brute_flops, "flops_split": split},
        "goal": {"count": goal_count, "flops": brute_flops // GOAL_RATIO},
        "residual": {"sequences": count["residual"], "brute_true": count["residual_true"],
                     "by_copies_q_lt_m": by_copies[0].tolist(), "by_copies_q_eq_m": by_copies[1].tolist(),
                     "proportional_flops_est": chord_flops + round(count["residual"] / total * brute_flops)},
        "stage2_all": {"certified": count["stage2_all"], "count": count["covered"] + count["stage2_all"],
                       "flops": spent["stage2_all"], "flops_per_sequence": round(per_stage2, 1),
                       "total_flops": chord_flops + spent["stage2_all"],
                       "of_brute_flops": (chord_flops + spent["stage2_all"]) / brute_flops},
        "levels": {"hard_outputs": hard_count, "certified": {k: count[k] for k in names},
                   "flops": {k: spent[k] for k in names}, "left_after": left_after, "left_true_after": left_true,
                   "l2_slots": slots_l2, "certified_not_in_truth": unsound, "cumulative": cumulative},
        "goal_selection": {"needed_after_l1": goal_count - after_l1_count, "pairs_qm": pairs_used,
                           "l2_to_l2b_flops": pair_cost, "total_flops": selected_total,
                           "of_brute_flops": selected_total / brute_flops if selected_total else None},
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--hard", type=int, default=4, help="hard outputs per max token in L2h (default 4)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    for model_path in args.models:
        result = analyse(model_path, args.hard)
        results.append(result)
        print(json.dumps(result, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
