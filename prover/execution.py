"""The execution layer: independent tasks run in this process, on a local Dask cluster, or on a running one.

Every long job of the prover (the zoo report's models, the brute force's shards, the trust suite's long
profile) is a list of independent tasks, each a module-level function and its arguments, mapped by an
:class:`Executor`. Which one runs them (:func:`open_executor`) is decided in one place:

* a scheduler address (``--scheduler ADDRESS``, else the environment variable :data:`SCHEDULER_ENV`)
  sends the tasks to that running Dask cluster (``dask scheduler`` and ``dask worker ADDRESS``); its
  workers must import this package at the same version and see the files a task names at the same paths
  (a shared file system): model files, certificate directories;
* otherwise ``jobs`` > 1 starts an embedded local Dask cluster of ``jobs`` worker processes on this
  machine, one thread each, and stops it afterwards;
* otherwise (``jobs`` = 1, nothing configured) the tasks run one after another in this process: a
  one-worker cluster would add only its start-up and the transfers.

Dask is the engine, not a scheduler of ours: it places tasks, moves their results, and reruns the task of
a worker that died on another worker (up to its ``distributed.scheduler.allowed-failures``, default 3).
Tasks must therefore be idempotent and write their results atomically, which the callers guarantee. Each
task runs with one torch thread on a worker (one worker process is one core). Nothing here is trusted:
the checker's verdicts are made inside the tasks by the checker's own functions.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from prover.progress import progress

SCHEDULER_ENV = "COMPACT_PROOFS_SCHEDULER"
"""The environment variable naming a Dask scheduler (``tcp://host:8786``) when ``--scheduler`` is not given."""

LOCAL_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}
"""Dask settings for the workers of a local cluster. Dask's nanny starts each worker with
MALLOC_TRIM_THRESHOLD_=65536, which fixes glibc's mmap threshold, so every large temporary tensor of the
prover is mapped and unmapped afresh: a K=4 brute-force shard took 0.9 s to prove on a worker against
0.13 s in this process (measured, /tmp profile of prover.shards.settle_shard); its statistical profiler
adds more. A running cluster's workers have their own settings: start them with ``--no-nanny`` or the same
configuration (README)."""
CONNECT_TIMEOUT = "10s"
"""How long to keep trying to reach a scheduler before giving up with one line."""

R = TypeVar("R")


class ClusterError(Exception):
    """The cluster could not be reached or started (one line, for the command line)."""


def _single_threaded(function: Callable[..., R], args: tuple) -> R:
    """``function(*args)`` with one torch thread (on a worker, one task is one core)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    return function(*args)


@dataclass
class Executor:
    """Runs independent tasks: in this process when ``client`` is None, else on its Dask cluster.

    ``workers`` is the number of tasks that can run at once; ``description`` says where they run (for
    outputs and logs); ``dashboard`` is the Dask dashboard's address when the cluster serves one.
    """

    description: str
    workers: int
    client: Any = None
    dashboard: str | None = None

    @property
    def distributed(self) -> bool:
        """Whether tasks leave this process."""
        return self.client is not None

    def map_unordered(
        self,
        function: Callable[..., R],
        tasks: Sequence[tuple],
        *,
        desc: str,
        progress_bar: bool | None = None,
    ) -> Iterator[tuple[int, R]]:
        """``(i, function(*tasks[i]))`` for every task, in the order they finish, with a progress bar.

        A task that raises ends the map with that exception (the tasks not yet finished are cancelled);
        on a cluster, a task whose worker died is rerun elsewhere by Dask before that, and what the engine
        itself raises (a task that killed its workers too often, a lost scheduler, a worker that cannot
        import a task's code) becomes a one-line ClusterError. Arguments travel with each task (keep them
        small: :class:`prover.shards.ShardModel` sends weights, not the checker's tables).
        """
        if self.client is None:
            for index in progress(range(len(tasks)), desc=desc, enabled=progress_bar):
                yield index, function(*tasks[index])
            return
        from distributed import as_completed

        futures = {
            self.client.submit(_single_threaded, function, task, pure=False): index for index, task in enumerate(tasks)
        }
        try:
            for future in progress(as_completed(futures), total=len(futures), desc=desc, enabled=progress_bar):
                yield futures.pop(future), _result(future)
        finally:
            self.client.cancel([future for future in futures if not future.done()])


def _result(future: Any) -> Any:
    """The future's result; the engine's own failures as ClusterError (one line), a task's own exception
    unchanged."""
    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    try:
        return future.result()
    except KilledWorker as error:
        raise ClusterError(f"a task ended the workers that ran it too often (memory?): {error}") from None
    except (CommClosedError, CancelledError) as error:
        raise ClusterError(f"the cluster went away during the run ({type(error).__name__}: {error})") from None
    except ModuleNotFoundError as error:
        raise ClusterError(f"a worker cannot import {error.name}: is compact-proofs installed there?") from None


def scheduler_address(option: str | None) -> str | None:
    """The scheduler to use: ``option`` if given, else :data:`SCHEDULER_ENV` if set and non-empty, else None."""
    if option:
        return option
    return os.environ.get(SCHEDULER_ENV) or None


@contextmanager
def open_executor(
    jobs: int = 1, scheduler: str | None = None, *, announce: bool = True, local_cluster: bool = False
) -> Iterator[Executor]:
    """The executor for ``jobs`` parallel tasks or the cluster at ``scheduler`` (module docstring), closed
    (a local cluster stopped) on exit; ``local_cluster`` starts a local cluster even for one job (to
    measure the engine). With ``announce``, where the tasks run and the dashboard's address go to stderr
    as one line when a cluster is used. ClusterError if the cluster cannot be reached."""
    address = scheduler_address(scheduler)
    if address is None and jobs <= 1 and not local_cluster:
        yield Executor("this process", 1)
        return
    try:
        import dask
        import distributed  # noqa: F401 (loads Dask's distributed defaults before they are changed below)
    except ImportError as error:  # pragma: no cover - distributed is a dependency of the prover extra
        raise ClusterError(f"a cluster needs dask.distributed ({error})") from None
    with dask.config.set(LOCAL_WORKER_CONFIG if address is None else {}):  # also when a nanny restarts a worker
        yield from _cluster_executor(jobs, address, announce)


def _cluster_executor(jobs: int, address: str | None, announce: bool) -> Iterator[Executor]:
    """The body of :func:`open_executor` for a cluster: start or reach it, yield its executor, close it."""
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if address is None:
            cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
            where = f"a local Dask cluster of {jobs} worker process{'es' if jobs > 1 else ''}"
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT)
            where = f"the Dask cluster at {address}"
    except (OSError, TimeoutError, ValueError) as error:  # ValueError: an address Dask cannot parse
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot reach the Dask scheduler {address or '(local)'}: {error}") from None
    try:
        workers = sum(client.nthreads().values())
        dashboard = _dashboard(client)
        executor = Executor(where, workers, client, dashboard)
        if announce:
            shown = f"; dashboard {dashboard}" if dashboard else ""
            threads = f"{workers} worker threads" if workers else "no worker yet: the tasks wait for one"
            print(f"running on {where} ({threads}){shown}", file=sys.stderr, flush=True)
        yield executor
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dashboard(client: Any) -> str | None:
    """The dashboard's address, or None when the scheduler serves none (bokeh missing there)."""
    try:
        link = client.dashboard_link
    except (AttributeError, KeyError):
        return None
    return str(link) if link else None
