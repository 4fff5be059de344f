"""The zoo report's summaries: the paper's headline table, the Pareto figure and the EQKE error table.

Everything here reads the checker's verdicts collected by :mod:`prover.report`; a family's per-model
bound is the best VALID relative bound among its strategies (0 when none is VALID: nothing certified).
Models without a reference accuracy (a VALID brute-force bound, or where brute force is out of reach an
estimate's upper confidence limit) have no relative bounds and are left out of those statistics. The
paper's column is shown for its setting only (Max-of-4, V = 64).
"""

from __future__ import annotations

import io
import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from checker.kernel.flops import COST_MODEL_VERSION
from prover.demo import best_per_family
from prover.report import BRUTE_FORCE, ESTIMATE_CONFIDENCE, ESTIMATE_SAMPLES, ESTIMATED, ModelReport, StrategyRun
from prover.writers import write_bytes_atomic

PAPER_MODELS = 151
# The paper's 151-model numbers (SPEC 5 and 7, and the paper's slides for the combined family): brute-force
# accuracy, then relative bounds per family. The paper's cubic figure is close to what its code gave before
# the 2024-07-30 fix (commit bd79dde), which dropped a term and was unsound (README, "cubic").
PAPER = {
    BRUTE_FORCE: "0.9992 ± 0.0015",
    "cubic": "0.9853 ± 0.0038",
    "subcubic": "0.833 ± 0.011",
    "attention-d_vocab d_model^2": "0.807 ± 0.013",
    "direct-quadratic": "0.663 ± 0.060",
    "attention-d_vocab d_model^2 + direct-quadratic": "0.637 ± 0.060",  # the paper's slides
}
PAPER_SETTING = (4, 64)
"""(n, V) of the paper's table."""
EXAMPLE_SEED = 123


def _write_text(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def families(reports: list[ModelReport]) -> list[str]:
    """The families present, in registry order (the order of the runs)."""
    return list(dict.fromkeys(run.family for report in reports for run in report.runs))


def mean_std(values: list[float], digits: int = 4) -> str:
    """``mean ± sample std`` (just the mean for one value, "-" for none)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _table_row(
    label: str, family: str, reports: list[ModelReport], value: Callable[[ModelReport, StrategyRun], float | None],
    paper: dict[str, str],
) -> str:
    """One table line: models with a VALID bound, mean ± std of the per-model best, paper, cost, winner."""
    values, winners = [], []
    for report in reports:
        best = next((run for run in best_per_family(report.runs) if run.family == family), None)
        score = None if best is None else value(report, best)
        values.append(0.0 if score is None else score)
        if score is not None:
            winners.append(best)
    flops = f"{statistics.median(run.verdict.flops for run in winners):.3g}" if winners else "-"
    most_often = Counter(run.strategy for run in winners).most_common(1)
    return (
        f"| {label} | {len(winners)}/{len(reports)} | {mean_std(values)} | {paper.get(family, '-')} | {flops} "
        f"| {most_often[0][0] if most_often else '-'} |"
    )


def settings(reports: list[ModelReport]) -> set[tuple[int, int]]:
    """The (n, V) of the reports' models."""
    return {report.setting for report in reports}


def headline_table(reports: list[ModelReport]) -> str:
    """``table.md``: the reference accuracy and, per family, the per-model best relative bound."""
    relative = [report for report in reports if report.accuracy]
    strategies = len({run.strategy for report in reports for run in report.runs})
    paper = PAPER if settings(reports) == {PAPER_SETTING} else {}
    estimated = [report.estimate for report in reports if report.estimate is not None]
    lines = [
        "# Certified accuracy bounds over the model zoo",
        "",
        f"{len(reports)} models ({', '.join(f'K={n} V={v}' for n, v in sorted(settings(reports)))}), {strategies} "
        f"strategies, proof length in checker FLOPs of cost model v{COST_MODEL_VERSION}. Only certificates the "
        "checker finds VALID count.",
        "",
        f"| | models with a VALID bound | this run (mean ± std) | paper ({PAPER_MODELS} models, K=4 V=64) "
        "| checker FLOPs of the best (median) | best strategy (most often) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    if len(estimated) < len(reports):
        lines.append(_table_row("brute-force accuracy", BRUTE_FORCE, reports, lambda _, run: run.bound, paper))
    if estimated:
        uppers = [estimate.upper for estimate in estimated]
        lines.append(f"| estimated accuracy, {ESTIMATED}: statistical, not a proof | {len(estimated)}/{len(reports)} "
                     f"| {mean_std(uppers)} | - | - | - |")
    for family in families(reports):
        if family != BRUTE_FORCE:
            lines.append(_table_row(f"{family} (relative bound)", family, relative, ModelReport.relative, paper))
    divisor = "its brute-force accuracy" if not estimated else (
        "its reference accuracy: brute force where V^n allows, else relative to the estimated accuracy (upper "
        f"confidence limit of {ESTIMATE_SAMPLES:,} uniform samples, each decided rigorously)")
    lines += [
        "",
        f"Relative bound: a model's best VALID bound in the family divided by {divisor}; a model",
        "with no VALID certificate in the family counts 0 (nothing certified). std is the sample standard",
        "deviation over models.",
    ]
    if len(relative) < len(reports):
        lines.append(
            f"{len(reports) - len(relative)} models without a reference accuracy are left out of the "
            "relative rows."
        )
    return "\n".join(lines) + "\n"


def write_table(path: Path, reports: list[ModelReport]) -> None:
    """Write ``table.md`` atomically."""
    _write_text(path, headline_table(reports))


def pareto_frontier(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The points no cheaper-or-equal point beats: by increasing FLOPs, each with a strictly higher bound."""
    frontier: list[tuple[int, float]] = []
    for flops, bound in sorted(points, key=lambda point: (point[0], -point[1])):
        if not frontier or bound > frontier[-1][1]:
            frontier.append((flops, bound))
    return frontier


# Qualitative colours without grey (grey is the frontier lines) and one marker shape per family.
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
            "tab:cyan")
_MARKERS = "os^Dv<>P"
ZOOM_RATIO = 3.0


def _relative_points(reports: list[ModelReport], family: str | None = None) -> list[tuple[int, float]]:
    """(checker FLOPs, relative bound) of every VALID run, of one family or of all."""
    return [
        (run.verdict.flops, bound)
        for report in reports for run in report.runs
        if family in (None, run.family) and (bound := report.relative(run)) is not None
    ]


def _family_best(reports: list[ModelReport], family: str) -> list[tuple[int, float]]:
    """(checker FLOPs, relative bound) of each model's best VALID run in ``family``."""
    best = (
        (report, next((run for run in best_per_family(report.runs) if run.family == family), None))
        for report in reports
    )
    return [(run.verdict.flops, bound) for report, run in best if run is not None and
            (bound := report.relative(run)) is not None]


def _draw_runs(axes: Axes, reports: list[ModelReport], *, label: bool) -> None:
    """Each model's Pareto frontier (thin grey steps), every VALID run coloured by family, and per family a
    large black-edged marker at the median FLOPs and mean relative bound of the models' best runs.
    """
    # Fainter lines and points as models add up, so 151 frontiers still read as a band, not a block.
    fade = min(1.0, 8 / len(reports))
    for report in reports:
        frontier = pareto_frontier(_relative_points([report]))
        if frontier:
            axes.plot(*zip(*frontier, strict=True), drawstyle="steps-post", color="0.45", linewidth=0.5,
                      alpha=max(0.6 * fade, 0.06), zorder=1,
                      label="one model's Pareto frontier" if label and report is reports[0] else None)
    for index, family in enumerate(families(reports)):
        style = {"color": _COLOURS[index % len(_COLOURS)], "marker": _MARKERS[index % len(_MARKERS)]}
        points = _relative_points(reports, family)
        if points:
            axes.scatter(*zip(*points, strict=True), s=12, alpha=max(0.7 * fade, 0.25), linewidths=0, zorder=2,
                         label=family if label else None, **style)
        best = _family_best(reports, family)
        if best:
            flops, bounds = zip(*best, strict=True)
            axes.scatter([statistics.median(flops)], [statistics.fmean(bounds)], s=110, edgecolors="black",
                         linewidths=1.2, zorder=4, **style)


def pareto_figure(reports: list[ModelReport]) -> Figure:
    """Relative bound against checker FLOPs: every VALID run, each model's frontier, the brute-force line.

    The left panel shows every proof on a log FLOPs axis; the right one zooms on the cheapest proofs
    (within :data:`ZOOM_RATIO` of the cheapest), where the subcubic variants crowd, on a linear axis.
    """
    figure = Figure(figsize=(15, 6.5), dpi=100, layout="constrained")
    overview, zoom = figure.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": (3, 2)})
    points = _relative_points(reports)
    _draw_runs(overview, reports, label=True)
    _draw_runs(zoom, reports, label=False)
    brute_flops = [run.verdict.flops for report in reports for run in report.runs
                   if run.strategy == BRUTE_FORCE and run.bound is not None]
    if points and brute_flops:
        full = statistics.fmean(brute_flops)
        fraction = np.logspace(np.log10(min(flops for flops, _ in points) / full / 2), 0, 200)
        overview.plot(fraction * full, fraction, color="black", linestyle="--", linewidth=1.2, zorder=3,
                      label="brute force on a fraction f of the inputs (cost f x its FLOPs)")
    overview.set_xscale("log")
    overview.set_ylim(-0.02, 1.05)
    overview.set_xlabel(f"proof length: checker FLOPs (cost model v{COST_MODEL_VERSION}, log scale)")
    estimated = any(report.estimate is not None for report in reports)
    overview.set_ylabel("certified bound / " + (f"estimated accuracy (upper {ESTIMATE_CONFIDENCE} limit)" if estimated
                                                  else "brute-force accuracy"))
    overview.set_title("every proof")
    overview.scatter([], [], s=110, color="white", edgecolors="black", linewidths=1.2,
                     label="family: mean over models of the best bound (at the median FLOPs)")
    legend = figure.legend(loc="outside lower center", ncols=4, fontsize=9, markerscale=1.8)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    if points:
        cheapest = min(flops for flops, _ in points)
        dearest = max(flops for flops, _ in points if flops <= cheapest * ZOOM_RATIO)
        margin = 0.03 * (dearest - cheapest) + 1
        zoom.set_xlim(cheapest - margin, dearest + margin)
    zoom.xaxis.set_major_formatter(EngFormatter())
    zoom.set_xlabel(f"proof length: checker FLOPs (cost model v{COST_MODEL_VERSION}, linear)")
    zoom.set_title(f"zoom: proofs within {ZOOM_RATIO:g}x of the cheapest")
    for axes in (overview, zoom):
        axes.grid(True, which="major", alpha=0.3)
    figure.suptitle(f"Relative certified bound against proof length, {len(reports)} models")
    return figure


def write_pareto(path: Path, reports: list[ModelReport]) -> None:
    """Write ``pareto.png`` atomically."""
    buffer = io.BytesIO()
    pareto_figure(reports).savefig(buffer, format="png", bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())


def eqke_errors_table(reports: list[ModelReport]) -> str:
    """``eqke-errors.md``: the four EQKE error-term bounds, their spread over models and their FLOPs, in the
    paper's raw units (scores before the division by the attention scale), with the checker's units for
    the example seed."""
    example = next((report for report in reports if report.seed == EXAMPLE_SEED), None)
    labels = list(dict.fromkeys(row.label for report in reports for row in report.eqke_errors))
    lines = [
        f"# EQKE error-term bounds over {len(reports)} models",
        "",
        "Upper bounds of max_q max_{i,j} (Err[q,i] - Err[q,j]) for the remainder Err = m0 m1 m2 m3 of the subproduct",
        "decomposition of EQKE (SPEC 5.3 steps A and B, as in the paper's table), computed with the checker's",
        f"interval arithmetic; FLOPs in cost model v{COST_MODEL_VERSION}.",
        "Unit: raw attention scores, before the division by the attention scale sqrt(d_head), as in the paper;",
        "the checker works in scores divided by the scale (the column \"/ scale\").",
        "",
        f"| bound (raw units) | mean ± std | min | median | max | FLOPs (mean) | seed {EXAMPLE_SEED} (this run) "
        f"| seed {EXAMPLE_SEED}, / scale | paper (its seed {EXAMPLE_SEED}, raw units) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label in labels:
        rows = [row for report in reports for row in report.eqke_errors if row.label == label]
        values = [row.raw_bound for row in rows]
        mine = next((row for row in example.eqke_errors if row.label == label), None) if example else None
        lines.append(
            f"| {label} | {mean_std(values, 3)} | {min(values):.4g} | {statistics.median(values):.4g} "
            f"| {max(values):.4g} | {statistics.fmean(row.flops for row in rows):.3g} "
            f"| {'-' if mine is None else f'{mine.raw_bound:.4g}'} | {'-' if mine is None else f'{mine.bound:.4g}'} "
            f"| {rows[0].paper} |"
        )
    return "\n".join(lines) + "\n"


def write_eqke_errors(path: Path, reports: list[ModelReport]) -> None:
    """Write ``eqke-errors.md`` atomically."""
    _write_text(path, eqke_errors_table(reports))


def write_summaries(out_dir: Path, reports: list[ModelReport]) -> list[Path]:
    """Write ``table.md``, ``pareto.png`` and ``eqke-errors.md`` into ``out_dir``; return their paths."""
    writers = {"table.md": write_table, "pareto.png": write_pareto, "eqke-errors.md": write_eqke_errors}
    paths = []
    for name, write in writers.items():
        write(out_dir / name, reports)
        paths.append(out_dir / name)
    return paths
