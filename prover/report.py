"""`zoo report`: prove and check every strategy on every model of a zoo, in parallel and resumably.

One model is one task of the execution layer (:mod:`prover.execution`: this process, a local Dask
cluster of ``--jobs`` workers, or a running cluster given by ``--scheduler``): a worker loads it once
(:func:`compact_proofs.load_model`) and runs the strategies in registry order, so per-model work that
strategies share is done once: the subcubic family
caches its tables and decompositions per model, and the checker computes its exact tables once for all
of that model's certificates (each verdict is still charged the FLOPs of everything its replay reads).
A strategy's certificate in ``<out>/certs/<model>/`` is reused when the checker still finds it VALID
(the model is read afresh by every report and its digest recomputed, so the certificate of a retrained
model is ERROR); otherwise the strategy is proved again and the certificate atomically replaced.
Only the checker's verdicts count: a bound is a VALID certificate's claim / V^n, and the relative
bound divides it by the model's reference accuracy: its brute-force accuracy where V^n is at most
BRUTE_FORCE_MAX_SEQUENCES (brute force then always runs), else the upper confidence limit of a
statistical estimate (:mod:`compact_proofs.estimating`; labelled so in every output, never a bound).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

import compact_proofs as cp
from prover.eqke_errors import ErrorRow, eqke_error_rows
from prover.execution import Executor
from prover.strategies import StrategyInfo
from prover.writers import write_bytes_atomic

BRUTE_FORCE = "brute-force"
BRUTE_FORCE_MAX_SEQUENCES = 1 << 26
"""The largest V^n the report proves by brute force (Max-of-4 at V = 64 is 2^24, Max-of-5 2^30)."""
ESTIMATE_SAMPLES, ESTIMATE_CONFIDENCE, ESTIMATE_SEED = 100_000, 0.999, 0
"""The estimate that replaces brute force as the reference beyond BRUTE_FORCE_MAX_SEQUENCES."""
ESTIMATED = f"estimate (upper {ESTIMATE_CONFIDENCE} limit)"

RESULT_FIELDS = (
    "model", "seed", "strategy", "family", "verdict", "certified_count", "claimed", "bound",
    "relative_bound", "reference", "reference_accuracy", "checker_flops", "prove_seconds", "check_seconds",
    "device", "message", "certificate_bytes", "model_digest",
)
TIMING_FIELDS = ("prove_seconds", "check_seconds", "device")
"""The fields of results.csv that say where and how fast a run went, not what it proved: without them, a
report's results.csv is the same wherever it ran (in this process or on any cluster)."""


@dataclass(frozen=True)
class StrategyRun:
    """One strategy on one model: the checker's verdict on its certificate and how that was made."""

    strategy: str
    family: str
    verdict: cp.Verdict
    prove_seconds: float
    device: str
    reused: bool = False
    certificate_bytes: int | None = None
    """The size of the certificate file checked (None where no file was written)."""

    @property
    def bound(self) -> float | None:
        """The certified accuracy lower bound (VALID verdicts only)."""
        bound = self.verdict.bound
        return None if bound is None else float(bound)


@dataclass(frozen=True)
class ModelReport:
    """Every strategy run on one model, the model's EQKE error-term table, and, where brute force is out
    of reach, the statistical estimate of its accuracy."""

    model: str
    seed: int | None
    setting: tuple[int, int]
    """(n, V) of the model: Max-of-n over a vocabulary of V tokens."""
    digest: str
    """The model's statement digest (SPEC 3): which weights the rows are about, whatever the file name."""
    runs: list[StrategyRun]
    eqke_errors: list[ErrorRow]
    estimate: cp.Estimate | None = None

    @property
    def reference(self) -> str:
        """What :attr:`accuracy` is: "brute-force" or the estimate's upper limit (:data:`ESTIMATED`)."""
        return BRUTE_FORCE if self.estimate is None else ESTIMATED

    @property
    def accuracy(self) -> float | None:
        """The reference accuracy: the brute-force bound, the model's exact accuracy up to ties (None
        unless VALID), or, without brute force, the estimate's upper confidence limit."""
        if self.estimate is not None:
            return self.estimate.upper
        return next((run.bound for run in self.runs if run.strategy == BRUTE_FORCE), None)

    def relative(self, run: StrategyRun) -> float | None:
        """``run``'s bound divided by the reference accuracy (None when either is missing)."""
        accuracy = self.accuracy
        return None if run.bound is None or not accuracy else run.bound / accuracy


def prove_and_check(model: cp.Model, strategy: StrategyInfo, path: Path, device: torch.device) -> StrategyRun:
    """Prove ``strategy``, write its certificate to ``path`` (atomically) and check the file written."""
    certificate = cp.prove(model, strategy, device)
    cp.save_certificate(path, certificate)
    return _run(strategy, cp.check(path, model), certificate.info, path, reused=False)


def _run(strategy: StrategyInfo, verdict: cp.Verdict, info: dict, path: Path, *, reused: bool) -> StrategyRun:
    """A run with the proving seconds and device its certificate records (NaN and "?" where it does not)
    and the size of its file."""
    seconds = info.get("seconds")
    seconds = float(seconds) if isinstance(seconds, (int, float)) else math.nan
    device = str(info.get("device", "?"))
    return StrategyRun(strategy.name, strategy.family, verdict, seconds, device, reused, path.stat().st_size)


def check_or_prove(model: cp.Model, strategy: StrategyInfo, path: Path, device: torch.device) -> StrategyRun:
    """Reuse the certificate at ``path`` if the checker finds it VALID, else prove and check anew.

    A prover failure becomes an ERROR row with its message rather than ending the whole report.
    """
    if path.exists():
        verdict = cp.check(path, model)
        if verdict.status == cp.VALID:
            return _run(strategy, verdict, cp.read_certificate(path, model).info, path, reused=True)
    try:
        return prove_and_check(model, strategy, path, device)
    except Exception as error:  # one failing strategy must not lose the rest of the zoo
        message = f"prover failed: {type(error).__name__}: {error}"
        verdict = cp.Verdict(cp.ERROR, str(path), model.name, message=message)
        return StrategyRun(strategy.name, strategy.family, verdict, 0.0, device.type)


def model_seed(path: Path) -> int | None:
    """The training seed in a zoo file name (``max4-v64-d32-seed123.safetensors`` gives 123), or None."""
    match = re.search(r"-seed(\d+)$", path.stem)
    return None if match is None else int(match.group(1))


def report_model(model_path: Path, cert_dir: Path, names: list[str], device: str) -> ModelReport:
    """Run the strategies ``names`` on one model, reusing VALID certificates in ``cert_dir``; ``device`` is
    the request ("auto", "cpu", "cuda"), resolved where the task runs."""
    model = cp.load_model(model_path)
    cert_dir.mkdir(parents=True, exist_ok=True)
    torch_device = cp.resolve_device(device)
    exhaustive = model.weights.d_vocab**model.weights.n_ctx <= BRUTE_FORCE_MAX_SEQUENCES
    runs = [
        check_or_prove(model, strategy, cert_dir / cp.certificate_filename(strategy.name), torch_device)
        for strategy in cp.resolve_strategies(names) if exhaustive or strategy.name != BRUTE_FORCE
    ]
    estimate = None if exhaustive else cp.estimate(
        model, ESTIMATE_SAMPLES, ESTIMATE_CONFIDENCE, ESTIMATE_SEED, progress_bar=False)
    errors = eqke_error_rows(model.weights, torch_device)
    setting = (model.weights.n_ctx, model.weights.d_vocab)
    return ModelReport(model_path.stem, model_seed(model_path), setting, model.digest, runs, errors, estimate)


def zoo_models(models_dir: Path, seeds: list[int], subset: int | None = None) -> list[Path]:
    """The model files of ``models_dir``: those of ``seeds`` in that order, then the others by name.

    ``subset`` keeps the first that many. Raises ValueError when there is none.
    """
    position = {seed: index for index, seed in enumerate(seeds)}

    def key(path: Path) -> tuple[int, str]:
        return position.get(model_seed(path), len(position)), path.name

    paths = sorted(models_dir.glob("*.safetensors"), key=key)
    if not paths:
        raise ValueError(f"no model files (*.safetensors) in {models_dir}")
    return paths[:subset]


def strategy_names(selected: list[StrategyInfo] | None) -> list[str]:
    """Registry order of the selected strategies (default: all), brute force always included (a model
    beyond BRUTE_FORCE_MAX_SEQUENCES skips it, :func:`report_model`)."""
    chosen = {s.name for s in selected} if selected is not None else None
    return [
        s.name for s in cp.strategies() if chosen is None or s.name in chosen or s.name == BRUTE_FORCE
    ]


def run_models(
    model_paths: list[Path], cert_root: Path, names: list[str], *, device: str, executor: Executor,
    show_progress: bool | None,
) -> list[ModelReport]:
    """:func:`report_model` on each model, one task per model on ``executor``; reports in the order of
    ``model_paths``. Each model runs with one torch thread, in this process or on a worker: on a shared
    machine a second thread per model costs more in contention than it gains (brute force 6x). Paths go
    to the tasks absolute (a cluster's workers must see them there)."""
    tasks = [(path.resolve(), cert_root.resolve() / path.stem, names, device) for path in model_paths]
    reports: dict[int, ModelReport] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        done = executor.map_unordered(report_model, tasks, desc="models", progress_bar=show_progress)
        for index, model_report in done:
            reports[index] = model_report
    finally:
        torch.set_num_threads(threads)
    return [reports[index] for index in range(len(tasks))]


def run_report(
    paths: list[Path], out_dir: Path, *, selected: list[StrategyInfo] | None, device: str, executor: Executor,
    show_progress: bool | None = None,
) -> list[ModelReport]:
    """Run the selected strategies on the models ``paths`` (:func:`zoo_models`) on ``executor`` (this
    process, a local Dask cluster or a running one: :mod:`prover.execution`); write ``results.csv``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = run_models(
        paths, out_dir / "certs", strategy_names(selected), device=device, executor=executor,
        show_progress=show_progress,
    )
    write_results_csv(out_dir / "results.csv", reports)
    return reports


def _number(value: float | None, digits: int = 10) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def result_rows(reports: list[ModelReport]) -> Iterator[dict[str, str]]:
    """One ``results.csv`` row (fields :data:`RESULT_FIELDS`) per (model, strategy)."""
    for report in reports:
        for run in report.runs:
            verdict = run.verdict
            yield {
                "model": report.model,
                "seed": "" if report.seed is None else str(report.seed),
                "strategy": run.strategy,
                "family": run.family,
                "verdict": verdict.status,
                "certified_count": "" if verdict.certified_count is None else str(verdict.certified_count),
                "claimed": "" if verdict.claimed is None else str(verdict.claimed),
                "bound": _number(run.bound),
                "relative_bound": _number(report.relative(run)),
                "reference": report.reference,
                "reference_accuracy": _number(report.accuracy),
                "checker_flops": str(verdict.flops),
                "prove_seconds": f"{run.prove_seconds:.3f}",
                "check_seconds": f"{verdict.seconds:.3f}",
                "device": run.device,
                "message": verdict.message,
                "certificate_bytes": "" if run.certificate_bytes is None else str(run.certificate_bytes),
                "model_digest": report.digest,
            }


def write_results_csv(path: Path, reports: list[ModelReport]) -> None:
    """Write ``results.csv`` atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(result_rows(reports))
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))
