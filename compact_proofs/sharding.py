"""Brute force in shards from Python: prove the shards of a model into a directory, check them as one.

``cp.prove_shards(model, "shards/")`` proves (resumably: shard certificates found there are re-checked
and kept) every brute-force shard of the default depth; ``cp.check_shards("shards/", model)`` is the
checker's verdict on the set, as ``check --shards shards/ --model MODEL`` gives it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from checker.shard_set import check_shard_set, shard_paths
from checker.verify import Verdict
from compact_proofs.models import Model

if TYPE_CHECKING:
    import torch

    from prover.shards import ShardRun


def prove_shards(
    model: Model,
    directory: str | os.PathLike[str],
    depth: int | None = None,
    device: str | torch.device | None = None,
    progress_bar: bool | None = None,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
) -> ShardRun:
    """Prove and check every brute-force shard of ``depth`` (default: the smallest whose shards have at
    most 2^24 sequences) into ``directory``, keeping the certificates there that re-check VALID
    (:func:`prover.shards.prove_shards`); ``run.verdict`` is the checker's verdict on the set. The shards
    run in this process, on ``jobs`` local Dask workers, or on the Dask cluster at ``scheduler`` (default
    the environment variable COMPACT_PROOFS_SCHEDULER; :mod:`prover.execution`)."""
    from prover.execution import open_executor
    from prover.shards import prove_shards as run

    request = "auto" if device is None else str(device)  # resolved where each shard runs
    with open_executor(jobs, scheduler, announce=progress_bar is not False) as executor:
        return run(model, Path(directory), depth, request, progress_bar, executor)


def check_shards(directory: str | os.PathLike[str], model: Model) -> Verdict:
    """The checker's verdict on the shard certificates ``directory/*.cert`` as one brute-force proof about
    ``model`` (:func:`checker.shard_set.check_shard_set`); never raises on bad input."""
    return check_shard_set(shard_paths(directory), model.checked, model.limits, name=os.fspath(directory))
