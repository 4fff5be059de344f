"""The check of a set of brute-force shard certificates as one proof about the whole input space.

If every certificate of a set is VALID for the model, all are shards of one depth j, and their indices
are 0..V^(j+1)-1 each exactly once, then the sum of their claims is at most the number of correct
sequences of the whole input space: each VALID shard certificate proves at least its claim many correct
sequences inside its own shard, and the shards of one depth are disjoint and cover the space
(:mod:`checker.shards`). Any other set gets a verdict that is not VALID. :func:`check_shard_set`
replays every certificate here and trusts no earlier verdict; :func:`combine_shard_verdicts` is the
coverage step alone, over verdicts the checker made elsewhere (on a cluster's workers), and is exactly as
trustworthy as they are.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from certificates.errors import format_count, short_repr
from checker.limits import Limits
from checker.shards import shard_count
from checker.verify import ERROR, INVALID, VALID, CheckedModel, Verdict, check_file


def shard_paths(directory: str | os.PathLike) -> list[Path]:
    """The certificate files ``directory/*.cert`` of a shard set, in name order."""
    return sorted(Path(directory).glob("*.cert"))


def check_shard_set(
    paths: Sequence[str | os.PathLike],
    model: CheckedModel,
    limits: Limits,
    name: str = "<shards>",
    on_checked: Callable[[Verdict], None] | None = None,
) -> Verdict:
    """Check every shard certificate in ``paths`` against ``model`` (each one replayed, none trusted),
    then their coverage (:func:`combine_shard_verdicts`). The verdict is VALID with the summed claims,
    certified counts and FLOPs if every certificate is a VALID shard and the indices cover one depth
    exactly once; else the worst shard verdict, or INVALID naming the first coverage problem. The verdict
    goes by ``name``; ``on_checked`` sees each shard's verdict as it is made (for progress)."""
    start = time.perf_counter()
    verdicts: list[Verdict] = []
    too_many = _too_many(len(paths), model, name)
    if too_many is not None:
        too_many.seconds = time.perf_counter() - start
        return too_many
    for path in paths:
        verdicts.append(check_file(path, model, limits))
        if on_checked is not None:
            on_checked(verdicts[-1])
        if verdicts[-1].status != VALID:
            break  # the set cannot be VALID; the first failing shard is the verdict's reason
    result = combine_shard_verdicts(verdicts, model, name)
    result.seconds = time.perf_counter() - start
    return result


def combine_shard_verdicts(verdicts: Sequence[Verdict], model: CheckedModel, name: str = "<shards>") -> Verdict:
    """The verdict on a set of shard certificates from the checker's verdicts on each of them: VALID with
    the summed claims, certified counts and FLOPs if every verdict is a VALID shard verdict about
    ``model``'s weights (by digest) claiming within its shard, and their indices cover one depth exactly
    once (module docstring, :func:`_first_problem`); otherwise the first ERROR, then INVALID, shard
    verdict, or the first problem found.

    The sum is exactly as trustworthy as the verdicts: :func:`check_shard_set` makes them here; a cluster
    (:mod:`prover.shards`) makes them on its workers with :func:`checker.verify.check_file`, and any of
    them can be re-checked here on its own.
    """
    too_many = _too_many(len(verdicts), model, name)
    if too_many is not None:
        return too_many
    result = Verdict(VALID, name, model.name, strategy=verdicts[0].strategy if verdicts else None)
    result.flops = sum(v.flops for v in verdicts)
    result.bookkeeping = sum(v.bookkeeping for v in verdicts)
    result.seconds = sum(v.seconds for v in verdicts)
    problem = _first_problem(verdicts, model)
    if problem is not None:
        result.status, result.message = problem
    else:
        result.claimed = sum(v.claimed or 0 for v in verdicts)
        result.certified_count = sum(v.certified_count or 0 for v in verdicts)
        result.total = model.weights.d_vocab**model.weights.n_ctx
        result.notes = {"shards": len(verdicts), "shard_depth": _depth(verdicts[0])}
    return result


def _too_many(count: int, model: CheckedModel, name: str) -> Verdict | None:
    """INVALID if ``count`` exceeds the shards of the finest depth (some shard must then repeat)."""
    most = model.weights.d_vocab ** max(model.weights.n_ctx - 1, 1)
    if count <= most:
        return None
    return Verdict(INVALID, name, model.name, message=f"{count} files, more than the {most} shards of the finest depth")


def _depth(verdict: Verdict) -> int:
    assert verdict.shard is not None
    return verdict.shard.depth


def _first_problem(verdicts: Sequence[Verdict], model: CheckedModel) -> tuple[str, str] | None:
    """(status, message) of the first reason the set does not prove its summed claim, or None.

    Checked of every verdict, whoever made it: it is VALID, about these weights (their digest), a shard of
    the one depth of the set, with a claim of at most its certified count and a total equal to its
    shard's size; and of the set: its indices are exactly 0..V^(j+1)-1, each once.
    """
    if not verdicts:
        return ERROR, "no shard certificates"
    weights = model.weights
    for status in (ERROR, INVALID):
        for verdict in verdicts:
            if verdict.status == status:
                return status, f"shard certificate {verdict.certificate}: {verdict.message}"
    for verdict in verdicts:
        if verdict.model_digest != weights.digest:
            return ERROR, f"shard certificate {verdict.certificate} was checked against another model"
        if verdict.status != VALID:
            return ERROR, f"shard certificate {verdict.certificate} has no verdict ({short_repr(verdict.status)})"
        if verdict.shard is None:
            return INVALID, f"{verdict.certificate} is not a shard certificate"
    depths = {v.shard.depth for v in verdicts if v.shard is not None}
    if len(depths) > 1:
        return INVALID, f"the shards have different depths {sorted(depths)[:2]}"
    depth = depths.pop()
    if not 0 <= depth <= weights.n_ctx - 2:
        return INVALID, f"depth {depth} is not a shard depth of this model (0..{weights.n_ctx - 2})"
    size = weights.d_vocab ** (weights.n_ctx - 1 - depth)
    for verdict in verdicts:
        claimed, certified = verdict.claimed, verdict.certified_count
        if claimed is None or certified is None or not 0 <= claimed <= certified <= size or verdict.total != size:
            return INVALID, f"shard certificate {verdict.certificate} does not certify its claim within its shard"
    indices = sorted(v.shard.index for v in verdicts if v.shard is not None)
    for earlier, later in itertools.pairwise(indices):
        if earlier == later:
            return INVALID, f"shard {format_count(earlier)} appears more than once"
    expected = shard_count(weights.d_vocab, depth)
    if indices[0] < 0 or indices[-1] >= expected:
        return INVALID, f"shard index {format_count(indices[-1] if indices[0] >= 0 else indices[0])} out of range"
    if len(indices) != expected:
        first = next((i for i, index in enumerate(indices) if index != i), len(indices))
        absent = format_count(expected - len(indices))
        return INVALID, f"{absent} of {format_count(expected)} shards missing, the first {format_count(first)}"
    return None
