"""The execution layer's choices without a cluster (the cluster itself: tests/test_cluster.py, slow)."""

from __future__ import annotations

import pytest

from prover.execution import SCHEDULER_ENV, Executor, open_executor, scheduler_address


def _square(value: int) -> int:
    if value < 0:
        raise ValueError(f"negative {value}")
    return value * value


def test_the_scheduler_is_the_option_then_the_environment(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert scheduler_address(None) is None
    monkeypatch.setenv(SCHEDULER_ENV, "")
    assert scheduler_address(None) is None
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://a:1")
    assert scheduler_address(None) == "tcp://a:1" and scheduler_address("tcp://b:2") == "tcp://b:2"


def test_one_job_and_nothing_configured_runs_in_this_process(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with open_executor(jobs=1) as executor:
        assert not executor.distributed and executor.workers == 1 and executor.description == "this process"
        done = dict(executor.map_unordered(_square, [(3,), (4,), (5,)], desc="squares", progress_bar=False))
    assert done == {0: 9, 1: 16, 2: 25}


def test_a_failing_task_ends_the_map_with_its_exception():
    with pytest.raises(ValueError, match="negative -1"):
        list(Executor("this process", 1).map_unordered(_square, [(2,), (-1,)], desc="x", progress_bar=False))
