"""Brute force in shards (SPEC 8): every shard of one depth proved into a directory, resumably.

Each shard is one idempotent task (:func:`settle_shard`) run by the execution layer
(:mod:`prover.execution`: this process, a local Dask cluster or a running one): its certificate is written
atomically to its own file, named by the depth and index, and then checked by the checker, so a stopped
run, a killed worker or a killed client loses at most the shards in flight. A restarted run re-checks
every shard certificate it finds (never trusting an earlier verdict or the file's name) and proves again
only the shards that are missing or whose certificate is not VALID for this model and this shard. The
shard verdicts are combined by the checker's coverage step into one verdict on the set; on a cluster that
verdict is as trustworthy as the workers that ran the checker, and ``check --shards DIR`` re-checks the
whole set here (``check DIR/<file> ...`` any subset of it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from certificates.codec import Shard
from certificates.model_file import ModelWeights
from checker.limits import Limits, table_work
from checker.shard_set import combine_shard_verdicts
from checker.shards import shard_count
from checker.strategies.brute_force import shard_work
from checker.verify import DEFAULT_LIMITS, VALID, Verdict, check_file, checked_model
from compact_proofs.files import CERTIFICATE_SUFFIX
from compact_proofs.models import Model
from compact_proofs.proving import RequestError, resolve_device
from prover import strategies as registry
from prover.certify import prove
from prover.execution import Executor
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
    and re-checked VALID, the summed claim of the shard certificates (a count over the whole input space,
    proved only if ``verdict`` is VALID), where the work ran, and ``verdict``: the checker's verdict on the
    set, combined from the checker's verdict on each shard certificate as its task read it
    (:func:`checker.shard_set.combine_shard_verdicts`; on a cluster those verdicts were made by its workers)."""

    directory: Path
    depth: int
    shards: int
    proved: int
    kept: int
    claimed: int
    total: int
    prove_seconds: float
    check_seconds: float
    verdict: Verdict
    ran_on: str = "this process"


@dataclass(frozen=True)
class ShardOutcome:
    """One shard settled by :func:`settle_shard`: the checker's verdict on its certificate file, whether
    the certificate was proved now (else kept), and the seconds spent proving and checking."""

    verdict: Verdict
    proved: bool
    prove_seconds: float
    check_seconds: float


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
    device: str = "auto",
    progress_bar: bool | None = None,
    executor: Executor | None = None,
) -> ShardRun:
    """Settle every brute-force shard of ``depth`` (default :func:`default_depth`) of ``model`` in
    ``directory`` (created if missing; :func:`settle_shard`), one task per shard on ``executor`` (default:
    this process), then combine the shard verdicts into the verdict on the set. ``device`` is the request
    ("auto", "cpu", "cuda"), resolved where each task runs. The directory is named to the tasks by its
    absolute path (a cluster's workers must see it there). ShardDirectoryError if it holds other
    certificate files. A stopped run loses at most the shards in flight."""
    weights = model.weights
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    depth = default_depth(vocab, n_ctx, weights.d_model, weights.d_head) if depth is None else depth
    count = shard_count(vocab, depth)
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    _refuse_foreign_files(folder, {shard_filename(depth, index, count) for index in range(count)}, depth)
    runner = executor or Executor("this process", 1)
    _LOCAL_MODELS.setdefault(ShardModel.of(model).key, model)  # in process, the caller's tables are reused
    tasks = [(ShardModel.of(model), folder, depth, index, device) for index in range(count)]
    outcomes: list[ShardOutcome | None] = [None] * count
    desc = f"brute-force shards (depth {depth})"
    for index, outcome in runner.map_unordered(settle_shard, tasks, desc=desc, progress_bar=progress_bar):
        outcomes[index] = outcome
    settled = [outcome for outcome in outcomes if outcome is not None]
    verdict = combine_shard_verdicts([o.verdict for o in settled], model.checked, name=str(directory))
    return ShardRun(
        directory=Path(directory), depth=depth, shards=count,
        proved=sum(o.proved for o in settled), kept=sum(not o.proved for o in settled),
        claimed=sum(o.verdict.claimed or 0 for o in settled), total=vocab**n_ctx,
        prove_seconds=sum(o.prove_seconds for o in settled), check_seconds=sum(o.check_seconds for o in settled),
        verdict=verdict, ran_on=runner.description,
    )


def settle_shard(source: ShardModel, folder: Path, depth: int, index: int, device: str) -> ShardOutcome:
    """Make the certificate of shard ``index`` of ``depth`` in ``folder`` VALID, idempotently: keep the
    file found there if the checker re-checks it VALID for this model and this shard (no earlier verdict
    or file name is trusted), else prove the shard on ``device`` (a request resolved here), write its
    certificate atomically and check the file written. The outcome carries the checker's verdict on the
    file as this task read it."""
    model = _local_copy(source)
    count = shard_count(model.weights.d_vocab, depth)
    path, shard = folder / shard_filename(depth, index, count), Shard(depth=depth, index=index)
    check_seconds = 0.0
    if path.exists():
        start = time.perf_counter()
        verdict = check_file(path, model.checked, model.limits)
        check_seconds += time.perf_counter() - start
        if verdict.status == VALID and verdict.shard == shard and verdict.claimed is not None:
            return ShardOutcome(verdict, proved=False, prove_seconds=0.0, check_seconds=check_seconds)
    strategy = registry.lookup(STRATEGY)
    assert strategy is not None
    certificate, prove_seconds = prove(model.weights, strategy, resolve_device(device), shard)
    write_certificate(path, certificate)
    start = time.perf_counter()
    verdict = check_file(path, model.checked, model.limits)
    check_seconds += time.perf_counter() - start
    return ShardOutcome(verdict, proved=True, prove_seconds=prove_seconds, check_seconds=check_seconds)


@dataclass(frozen=True)
class ShardModel:
    """What a shard task receives: the weights as the checker's reader returned them, the limits and the
    name; not the checker's tables, which each process computes once for itself (:func:`_local_copy`)."""

    weights: ModelWeights
    limits: Limits
    name: str

    @classmethod
    def of(cls, model: Model) -> ShardModel:
        return cls(model.weights, model.limits, model.name)

    @property
    def key(self) -> tuple[str, str, Limits]:
        return self.weights.digest, self.name, self.limits


_LOCAL_MODELS: dict[tuple[str, str, Limits], Model] = {}
"""The models this process has settled shards of, by digest, name and limits: a worker builds the model
of the first task it receives and keeps it, so its exact tables are computed once for all its tasks."""
_LOCAL_MODELS_KEPT = 4


def _local_copy(source: ShardModel) -> Model:
    """The model of ``source`` this process keeps (:data:`_LOCAL_MODELS`), its weight arrays read-only
    (a copy sent to a worker may arrive writeable)."""
    kept = _LOCAL_MODELS.get(source.key)
    if kept is None:
        for value in vars(source.weights).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        while len(_LOCAL_MODELS) >= _LOCAL_MODELS_KEPT:
            _LOCAL_MODELS.pop(next(iter(_LOCAL_MODELS)))
        kept = Model(checked_model(source.weights, source.limits, source.name), source.limits)
        _LOCAL_MODELS[source.key] = kept
    return kept


def _refuse_foreign_files(folder: Path, names: set[str], depth: int) -> None:
    """ShardDirectoryError naming a certificate file in ``folder`` that is not one of ``names``."""
    for path in sorted(folder.glob(f"*{CERTIFICATE_SUFFIX}")):
        if path.name not in names:
            raise ShardDirectoryError(
                f"{folder} holds {path.name}, which is not a {STRATEGY} shard of depth {depth} of this model's "
                "input space; use an empty directory (check --shards reads every certificate in it)"
            )
