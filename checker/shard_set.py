"""The check of a set of brute-force shard certificates as one proof about the whole input space.

If every certificate of a set is VALID for the model, all are shards of one depth j, and their indices
are 0..V^(j+1)-1 each exactly once, then the sum of their claims is at most the number of correct
sequences of the whole input space: each VALID shard certificate proves at least its claim many correct
sequences inside its own shard, and the shards of one depth are disjoint and cover the space
(:mod:`checker.shards`). Any other set gets a verdict that is not VALID. Every certificate is replayed
here; no earlier verdict is trusted.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from certificates.errors import format_count
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
    then their coverage (module docstring). The verdict is VALID with the summed claims, certified counts
    and FLOPs if every certificate is a VALID shard and the indices cover one depth exactly once; else the
    worst shard verdict, or INVALID naming the first coverage problem. The verdict goes by ``name``;
    ``on_checked`` sees each shard's verdict as it is made (for progress)."""
    start = time.perf_counter()
    verdicts: list[Verdict] = []
    most = model.weights.d_vocab ** max(model.weights.n_ctx - 1, 1)
    if len(paths) > most:  # more files than the finest depth has shards: some shard repeats
        result = Verdict(INVALID, name, model.name, message=f"{len(paths)} files, more than the {most} shards "
                         "of the finest depth")
        result.seconds = time.perf_counter() - start
        return result
    for path in paths:
        verdicts.append(check_file(path, model, limits))
        if on_checked is not None:
            on_checked(verdicts[-1])
        if verdicts[-1].status != VALID:
            break  # the set cannot be VALID; the first failing shard is the verdict's reason
    result = Verdict(VALID, name, model.name, strategy=verdicts[0].strategy if verdicts else None)
    result.flops = sum(v.flops for v in verdicts)
    result.bookkeeping = sum(v.bookkeeping for v in verdicts)
    problem = _first_problem(verdicts, model.weights.d_vocab)
    if problem is not None:
        result.status, result.message = problem
    else:
        result.claimed = sum(v.claimed or 0 for v in verdicts)
        result.certified_count = sum(v.certified_count or 0 for v in verdicts)
        result.total = model.weights.d_vocab**model.weights.n_ctx
        result.notes = {"shards": len(verdicts), "shard_depth": _depth(verdicts[0])}
    result.seconds = time.perf_counter() - start
    return result


def _depth(verdict: Verdict) -> int:
    assert verdict.shard is not None
    return verdict.shard.depth


def _first_problem(verdicts: list[Verdict], d_vocab: int) -> tuple[str, str] | None:
    """(status, message) of the first reason the set does not prove its summed claim, or None."""
    if not verdicts:
        return ERROR, "no shard certificates"
    for status in (ERROR, INVALID):
        for verdict in verdicts:
            if verdict.status == status:
                return status, f"shard certificate {verdict.certificate}: {verdict.message}"
    for verdict in verdicts:
        if verdict.shard is None:
            return INVALID, f"{verdict.certificate} is not a shard certificate"
    depths = {v.shard.depth for v in verdicts if v.shard is not None}
    if len(depths) > 1:
        return INVALID, f"the shards have different depths {sorted(depths)[:2]}"
    indices = sorted(v.shard.index for v in verdicts if v.shard is not None)
    for earlier, later in itertools.pairwise(indices):
        if earlier == later:
            return INVALID, f"shard {format_count(earlier)} appears more than once"
    expected = shard_count(d_vocab, depths.pop())
    if len(indices) != expected:
        first = next((i for i, index in enumerate(indices) if index != i), len(indices))
        absent = format_count(expected - len(indices))
        return INVALID, f"{absent} of {format_count(expected)} shards missing, the first {format_count(first)}"
    return None
