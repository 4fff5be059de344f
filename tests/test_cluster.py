"""The execution layer on real Dask clusters (worker processes): the sharded brute force gives the
in-process verdict, a worker killed in the middle of a run loses nothing, the zoo report's results.csv
does not depend on where it ran, and a running scheduler is reached by its address, as the README shows."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import compact_proofs as cp
from checker.verify import VALID
from prover import report, zoo_cli
from prover.execution import SCHEDULER_ENV, ClusterError, open_executor
from prover.shards import ShardRun, prove_shards
from tests.cli_runner import ROOT, run
from tests.exact_reference import exact_accuracy
from tests.model_factory import random_tensors, write_model

pytestmark = pytest.mark.slow

VOCAB, N_CTX, DEPTH = 7, 5, 2
"""16,807 sequences in 343 shards of 49: enough tasks that a worker can be killed while some run."""


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cluster") / "m.safetensors"
    write_model(path, random_tensors(5, vocab=VOCAB, n_ctx=N_CTX, d_model=4))
    return path


@pytest.fixture(scope="module")
def in_process(model_path, tmp_path_factory) -> ShardRun:
    """The reference: every shard proved and checked in this process."""
    model = cp.load_model(model_path)
    return prove_shards(model, tmp_path_factory.mktemp("in-process"), DEPTH, progress_bar=False)


def test_in_process_reference_is_valid_and_within_the_truth(in_process, model_path):
    truth = exact_accuracy(cp.load_model(model_path).weights)
    verdict = in_process.verdict
    assert verdict.status == VALID and in_process.proved == in_process.shards == VOCAB ** (DEPTH + 1)
    assert verdict.claimed == verdict.certified_count <= truth.count


def test_two_local_workers_give_the_in_process_verdict(in_process, model_path, tmp_path):
    model = cp.load_model(model_path)
    with open_executor(jobs=2, announce=False) as executor:
        assert executor.distributed and executor.workers == 2
        distributed = prove_shards(model, tmp_path / "shards", DEPTH, progress_bar=False, executor=executor)
    _assert_same_verdict(distributed, in_process)
    assert distributed.ran_on == "a local Dask cluster of 2 worker processes"
    local = cp.check_shards(tmp_path / "shards", model)  # any user can re-check the set here
    assert (local.status, local.claimed, local.flops) == (VALID, in_process.verdict.claimed, in_process.verdict.flops)


def test_a_worker_killed_in_the_middle_of_a_run_loses_nothing(in_process, model_path, tmp_path):
    """One of two worker processes is killed (SIGKILL) once some shards are written: Dask reruns its tasks
    on the other worker (or on the one its nanny restarts), and the combined verdict is the in-process one."""
    model = cp.load_model(model_path)
    directory = tmp_path / "shards"
    with open_executor(jobs=2, announce=False) as executor:
        result: dict[str, ShardRun] = {}

        def work() -> None:
            result["run"] = prove_shards(model, directory, DEPTH, progress_bar=False, executor=executor)

        runner = threading.Thread(target=work)
        runner.start()
        deadline = time.monotonic() + 120
        while len(list(directory.glob("*.cert"))) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        written_at_kill = len(list(directory.glob("*.cert")))
        victim = next(iter(executor.client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        still_running = runner.is_alive()
        runner.join(timeout=300)
    assert still_running and written_at_kill < in_process.shards, "the worker was not killed mid-run"
    _assert_same_verdict(result["run"], in_process)


def test_a_restarted_run_on_a_cluster_redoes_only_missing_shards(in_process, model_path, tmp_path):
    directory = tmp_path / "shards"
    shutil.copytree(in_process.directory, directory)
    removed = sorted(directory.glob("*.cert"))[::50]
    for path in removed:
        path.unlink()
    model = cp.load_model(model_path)
    with open_executor(jobs=2, announce=False) as executor:
        again = prove_shards(model, directory, DEPTH, progress_bar=False, executor=executor)
    assert (again.proved, again.kept) == (len(removed), in_process.shards - len(removed))
    _assert_same_verdict(again, in_process)


def test_the_zoo_report_is_the_same_with_and_without_the_cluster(model_path, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for seed in (3, 4):
        write_model(models / f"max4-v5-d4-seed{seed}.safetensors", random_tensors(seed, vocab=5, n_ctx=4))

    strategies = ("cubic", "cubic-ov-chord", "subcubic/EUPU=mean-query+max-diff,attn=drop-average-query,attn-err=svd")

    def results(out: str, *extra: str) -> list[dict[str, str]]:
        chosen = [argument for name in strategies for argument in ("--strategy", name)]
        args = ["report", "--models", str(models), "--out", str(tmp_path / out), *chosen, "--device", "cpu",
                "--no-progress", *extra]
        assert zoo_cli.main(args) == 0
        with open(tmp_path / out / "results.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        return [{key: value for key, value in row.items() if key not in report.TIMING_FIELDS} for row in rows]

    alone, clustered = results("alone"), results("cluster", "--jobs", "2")
    assert len(alone) == 2 * 4 and all(row["verdict"] == VALID for row in alone)
    assert alone == clustered


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler tcp://127\.0\.0\.1:9"), open_executor():
        pass
    assert time.monotonic() - start < 60


def test_a_running_scheduler_and_worker_reached_by_address(in_process, model_path, tmp_path):
    """``dask scheduler`` and ``dask worker`` started as the README shows; ``prove --shards --scheduler``."""
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler_file = tmp_path / "scheduler.json"
    environment = {
        **os.environ, "PYTHONPATH": str(ROOT),
        "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_": "None",  # as the README says
    }
    scheduler = subprocess.Popen(
        [*dask, "--scheduler-file", str(scheduler_file), "--port", "0", "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
    )
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
        )
        proved = run("-m", "prover.prove_cli", str(model_path), "--shards", str(tmp_path / "s"),
                     "--shard-depth", str(DEPTH), "--scheduler", address)
        assert proved.returncode == 0, proved.stderr
        assert f"on the Dask cluster at {address}" in proved.stdout
        assert f"VALID: claims {in_process.verdict.claimed}/{VOCAB**N_CTX}" in proved.stdout
        assert f"running on the Dask cluster at {address}" in proved.stderr
        from distributed import Client

        with Client(address) as client:  # the README's setting reached the worker process
            assert set(client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)


def _assert_same_verdict(run: ShardRun, reference: ShardRun) -> None:
    got, expected = run.verdict, reference.verdict
    assert got.status == VALID, got.message
    assert (got.claimed, got.certified_count, got.flops, got.notes) == (
        expected.claimed, expected.certified_count, expected.flops, expected.notes
    )
    assert run.claimed == reference.claimed and run.shards == reference.shards
