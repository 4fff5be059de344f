"""Brute force in shards (SPEC 8): every shard of one depth proved into a directory, resumably.

Each shard certificate is written atomically to its own file, named by the depth and index, so a run
that is stopped loses at most the shard it was proving. A restarted run re-checks every shard certificate
it finds with the checker (never trusting an earlier verdict or the file's name) and proves again only the
shards that are missing or whose certificate is not VALID for this model and this shard. The checker
verifies the set as a whole with ``check --shards DIR`` (:mod:`checker.shard_set`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from certificates.codec import Shard
from checker.limits import table_work
from checker.shards import shard_count
from checker.strategies.brute_force import shard_work
from checker.verify import DEFAULT_LIMITS, VALID, check_file
from compact_proofs.files import CERTIFICATE_SUFFIX
from compact_proofs.models import Model
from compact_proofs.proving import RequestError
from prover import strategies as registry
from prover.certify import prove
from prover.progress import progress
from prover.writers import write_certificate

SHARD_SEQUENCES = 1 << 24
"""The default depth is the smallest whose shards have at most this many sequences (16.8 million: a few
seconds to prove or check on one core at V = 64) and fit the checker's default work limit."""
STRATEGY = "brute-force"


class ShardDirectoryError(RequestError):
    """The output directory holds certificate files that are not shards of this run (one line)."""


@dataclass
class ShardRun:
    """What a sharded proof did: ``proved`` shards proved now, ``kept`` shards whose certificate was found
    and re-checked VALID, and the summed claim of all ``shards`` (a count over the whole input space)."""

    directory: Path
    depth: int
    shards: int
    proved: int
    kept: int
    claimed: int
    total: int
    prove_seconds: float
    recheck_seconds: float


def default_depth(d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> int:
    """The smallest depth in 0..n-2 whose shards have at most SHARD_SEQUENCES sequences and whose check is
    estimated within the checker's default work limit (n-2 if none is)."""

    def fits(depth: int) -> bool:
        work = table_work(d_vocab, n_ctx, d_model, d_head) + shard_work(d_vocab, n_ctx, d_model, d_head, depth)
        return d_vocab ** (n_ctx - 1 - depth) <= SHARD_SEQUENCES and work <= DEFAULT_LIMITS.work

    depth = 0
    while depth < n_ctx - 2 and not fits(depth):
        depth += 1
    return depth


def shard_filename(depth: int, index: int, count: int) -> str:
    """The file of shard ``index`` of the ``count`` shards of ``depth``; names sort in index order."""
    return f"{STRATEGY}-d{depth}-{index:0{len(str(count - 1))}d}{CERTIFICATE_SUFFIX}"


def prove_shards(
    model: Model,
    directory: str | Path,
    depth: int | None = None,
    device: torch.device | None = None,
    progress_bar: bool | None = None,
) -> ShardRun:
    """Prove every brute-force shard of ``depth`` (default :func:`default_depth`) of ``model`` into
    ``directory`` (created if missing), keeping each shard certificate found there that the checker
    re-checks VALID. ShardDirectoryError if the directory holds other certificate files."""
    weights = model.weights
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    depth = default_depth(vocab, n_ctx, weights.d_model, weights.d_head) if depth is None else depth
    count = shard_count(vocab, depth)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    names = [shard_filename(depth, index, count) for index in range(count)]
    _refuse_foreign_files(folder, set(names), depth)
    strategy = registry.lookup(STRATEGY)
    assert strategy is not None
    chosen = device or torch.device("cpu")
    run = ShardRun(folder, depth, count, 0, 0, 0, vocab**n_ctx, 0.0, 0.0)
    bar = progress(range(count), desc=f"brute-force shards (depth {depth})", enabled=progress_bar)
    for index in bar:
        path, shard = folder / names[index], Shard(depth=depth, index=index)
        if path.exists():
            start = time.perf_counter()
            verdict = check_file(path, model.checked, model.limits)
            run.recheck_seconds += time.perf_counter() - start
            if verdict.status == VALID and verdict.shard == shard and verdict.claimed is not None:
                run.kept += 1
                run.claimed += verdict.claimed
                continue
        certificate, seconds = prove(weights, strategy, chosen, shard)
        write_certificate(path, certificate)
        run.proved += 1
        run.claimed += certificate.claim_correct
        run.prove_seconds += seconds
    return run


def _refuse_foreign_files(folder: Path, names: set[str], depth: int) -> None:
    """ShardDirectoryError naming a certificate file in ``folder`` that is not one of ``names``."""
    for path in sorted(folder.glob(f"*{CERTIFICATE_SUFFIX}")):
        if path.name not in names:
            raise ShardDirectoryError(
                f"{folder} holds {path.name}, which is not a {STRATEGY} shard of depth {depth} of this model's "
                "input space; use an empty directory (check --shards reads every certificate in it)"
            )
