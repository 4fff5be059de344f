"""The sharded brute force on the execution layer: engine overhead, scaling with workers, and projections.

    python bench/cluster_brute_force.py MODEL [--workers 1,2] [--root bench-cluster] [--depth J]
    python bench/cluster_brute_force.py MODEL --sample-shards N [--workers 2] [--root bench-cluster]

First form: the whole brute force (every shard proved, written and checked) once in this process with
one torch thread, then on a local Dask cluster of each worker count, each into a fresh directory; prints
the wall times, the engine's overhead (one worker against this process) and the speed-up over one
worker, all measured in this one run, and asserts that every run gives the same verdict.

Second form, for a setting too large to run whole here: N shards spread evenly over the index range,
each proved and checked as one task on a local cluster of the first worker count; prints the measured
seconds per shard (prove, check) and the projection of the whole brute force: core-seconds = the mean per
shard times the shard count, and wall time on the given workers and on one core. A projection, not a
measurement: shards differ in how many sequences the prover must list as failures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import torch

import compact_proofs as cp
from checker.shards import shard_count
from prover.execution import Executor, open_executor
from prover.shards import ShardModel, ShardRun, default_depth, prove_shards, settle_shard


def timed_run(model: cp.Model, directory: Path, depth: int, executor: Executor) -> tuple[ShardRun, float]:
    """The whole sharded brute force into a fresh ``directory``: (run, wall seconds)."""
    shutil.rmtree(directory, ignore_errors=True)
    start = time.perf_counter()
    run = prove_shards(model, directory, depth, progress_bar=False, executor=executor)
    return run, time.perf_counter() - start


def scaling(model: cp.Model, root: Path, depth: int, workers: list[int]) -> None:
    """The first form (module docstring)."""
    torch.set_num_threads(1)
    rows: list[tuple[str, ShardRun, float]] = []
    run, seconds = timed_run(model, root / "in-process", depth, Executor("this process", 1))
    rows.append(("this process (1 thread)", run, seconds))
    for count in workers:
        with open_executor(jobs=count, announce=False, local_cluster=True) as executor:
            run, seconds = timed_run(model, root / f"workers-{count}", depth, executor)
        rows.append((f"local Dask cluster, {count} worker{'s' if count > 1 else ''}", run, seconds))
    reference = rows[0][1].verdict
    one_worker = next((seconds for label, _, seconds in rows if label.endswith(", 1 worker")), None)
    print(f"{model.name}: {rows[0][1].shards} shards (depth {depth}), {rows[0][1].total:.3e} sequences")
    print("| runs on | wall | per shard | verdict | claimed | vs this process | speed-up over 1 worker |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, run, seconds in rows:
        same = (run.verdict.status, run.verdict.claimed, run.verdict.flops) == (
            reference.status, reference.claimed, reference.flops)
        assert same, f"{label}: {run.verdict.status} {run.verdict.claimed} differs from the in-process run"
        speedup = "" if one_worker is None else f"{one_worker / seconds:.2f}x"
        print(f"| {label} | {seconds:.1f} s | {seconds / run.shards * 1000:.0f} ms | {run.verdict.status} | "
              f"{run.claimed} | {seconds / rows[0][2] - 1:+.1%} | {speedup} |", flush=True)


def projection(model: cp.Model, root: Path, depth: int, samples: int, workers: int) -> None:
    """The second form (module docstring)."""
    count = shard_count(model.weights.d_vocab, depth)
    indices = sorted({index * count // samples for index in range(samples)})
    directory = root / "sample"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    start = time.perf_counter()
    with open_executor(jobs=workers, announce=False, local_cluster=True) as executor:
        tasks = [(ShardModel.of(model), directory.resolve(), depth, index, "cpu") for index in indices]
        outcomes = [outcome for _, outcome in executor.map_unordered(settle_shard, tasks, desc="sampled shards")]
        where = executor.description
    wall = time.perf_counter() - start
    assert all(o.verdict.status == cp.VALID for o in outcomes)
    prove_mean = statistics.fmean(o.prove_seconds for o in outcomes)
    check_mean = statistics.fmean(o.check_seconds for o in outcomes)
    accuracy = sum(o.verdict.claimed or 0 for o in outcomes) / sum(o.verdict.total or 0 for o in outcomes)
    core = (prove_mean + check_mean) * count
    sequences = model.weights.d_vocab**model.weights.n_ctx
    print(f"{model.name}: {len(indices)} of {count} shards (depth {depth}, {sequences:.3e} sequences) on {where}, "
          f"{wall:.0f} s wall")
    print(f"  measured per shard: prove {prove_mean:.2f} s (max {max(o.prove_seconds for o in outcomes):.2f}), "
          f"check {check_mean:.2f} s (max {max(o.check_seconds for o in outcomes):.2f}); "
          f"accuracy certified on the sample {accuracy:.6f}")
    print(f"  PROJECTION for all {count} shards: {core:.0f} core-seconds = {core / 3600:.1f} h on one core, "
          f"{core / workers / 3600:.1f} h on {workers} workers (prove {prove_mean * count / 3600:.1f} h + "
          f"check {check_mean * count / 3600:.1f} h per core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--workers", default="1,2", help="comma-separated local worker counts (default 1,2)")
    parser.add_argument("--root", type=Path, default=Path("bench-cluster"))
    parser.add_argument("--depth", type=int, help="shard depth (default: shards of at most 2^24 sequences)")
    parser.add_argument("--sample-shards", type=int, help="measure this many shards and project the rest")
    args = parser.parse_args()
    model = cp.load_model(args.model)
    weights = model.weights
    depth = default_depth(weights.d_vocab, weights.n_ctx, weights.d_model, weights.d_head) if args.depth is None \
        else args.depth
    workers = [int(item) for item in args.workers.split(",")]
    root = args.root / args.model.stem
    if args.sample_shards:
        projection(model, root, depth, args.sample_shards, workers[0])
    else:
        scaling(model, root, depth, workers)


if __name__ == "__main__":
    main()
