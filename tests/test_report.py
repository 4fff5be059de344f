"""`zoo report` on two tiny models: every output, resuming, re-proving stale certificates, parallel runs."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from certificates.codec import read_certificate
from checker.kernel.flops import COST_MODEL_VERSION
from checker.verify import max_trace_elements
from compact_proofs import certificate_filename, resolve_strategies
from prover import report, zoo_cli
from prover.execution import Executor
from prover.writers import write_certificate
from tests.model_factory import random_tensors, write_model

SEEDS = (7, 3)  # the seeds file lists 7 first, so the report puts seed 7 first although "3" sorts first


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """A directory with two tiny models (V=5, n=4) and a seeds file; the models are in ``zoo/models``."""
    root = tmp_path_factory.mktemp("zoo")
    (root / "models").mkdir()
    for seed in SEEDS:
        write_model(root / "models" / f"max4-v5-d4-seed{seed}.safetensors", random_tensors(seed, vocab=5, n_ctx=4))
    (root / "seeds.txt").write_text("# order of the zoo\n" + "\n".join(map(str, SEEDS)) + "\n")
    return root


def _report(zoo: Path, out: Path, *extra: str) -> int:
    return zoo_cli.main([
        "report", "--models", str(zoo / "models"), "--out", str(out), "--seeds-file", str(zoo / "seeds.txt"),
        "--strategy", "cubic", "--device", "cpu", "--no-progress", *extra,
    ])


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def reported(zoo, tmp_path_factory) -> Path:
    """The report directory of one finished run."""
    out = tmp_path_factory.mktemp("report")
    assert _report(zoo, out) == 0
    return out


def _certificates(out: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in sorted((out / "certs").rglob("*.cert"))}


def test_report_writes_every_file(reported):
    for name in ("results.csv", "table.md", "pareto.png", "eqke-errors.md"):
        assert (reported / name).stat().st_size > 0, name
    assert (reported / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert len(_certificates(reported)) == 4


def test_results_rows_are_checked_and_below_brute_force(reported):
    rows = _rows(reported)
    assert [(row["seed"], row["strategy"]) for row in rows] == [
        (str(seed), strategy) for seed in SEEDS for strategy in ("brute-force", "cubic")
    ]
    accuracy = {row["seed"]: float(row["bound"]) for row in rows if row["strategy"] == "brute-force"}
    for row in rows:
        assert row["verdict"] == "VALID", row
        assert int(row["certified_count"]) >= int(row["claimed"])
        assert Fraction(int(row["claimed"]), 5**4) == pytest.approx(float(row["bound"]))
        assert float(row["bound"]) <= accuracy[row["seed"]]
        assert float(row["relative_bound"]) <= 1.0
        assert int(row["checker_flops"]) > 0 and row["device"] == "cpu"


def test_table_has_the_paper_column_filled_for_its_setting_only(reported):
    """The tiny zoo (K=4, V=5) gets the paper's column header but none of its K=4, V=64 figures."""
    table = (reported / "table.md").read_text()
    assert "paper (151 models, K=4 V=64)" in table and "2 models (K=4 V=5)" in table
    assert f"cost model v{COST_MODEL_VERSION}" in table
    assert "| brute-force accuracy | 2/2 |" in table and "0.9992 ± 0.0015" not in table
    assert "| cubic (relative bound) | 2/2 |" in table and "0.9853 ± 0.0038" not in table


def test_eqke_error_table(reported):
    table = (reported / "eqke-errors.md").read_text()
    for label in ("exact max row diff", "2 max|Err|", "max row diff on the subproduct", "recursive max row diff"):
        assert f"| {label} |" in table


def test_resume_reuses_certificates(zoo, reported, tmp_path):
    out = tmp_path / "report"
    shutil.copytree(reported, out)
    before = _certificates(out)
    reports = report.run_report(
        report.zoo_models(zoo / "models", list(SEEDS)), out, selected=resolve_strategies(["cubic"]), device="cpu",
        executor=Executor("this process", 1), show_progress=False,
    )
    assert all(run.reused and run.verdict.status == "VALID" for model in reports for run in model.runs)
    assert _certificates(out) == before
    assert _rows(out) == [{**row, "check_seconds": new["check_seconds"]} for row, new in zip(
        _rows(reported), _rows(out), strict=True)]


def test_tampered_certificate_is_reproved(zoo, reported, tmp_path):
    out = tmp_path / "report"
    shutil.copytree(reported, out)
    stem = f"max4-v5-d4-seed{SEEDS[0]}"
    tampered = out / "certs" / stem / certificate_filename("cubic")
    weights = write_model(tmp_path / "copy.safetensors", random_tensors(SEEDS[0], vocab=5, n_ctx=4))
    certificate = read_certificate(tampered, max_array_elements=max_trace_elements(weights))
    write_certificate(tampered, replace(certificate, claim_correct=certificate.claim_correct + 1))
    before = _certificates(out)
    assert _report(zoo, out) == 0
    after = _certificates(out)
    assert [path for path in before if before[path] != after[path]] == [tampered]
    assert read_certificate(tampered, max_array_elements=max_trace_elements(weights)).claim_correct == (
        certificate.claim_correct
    )
    assert all(row["verdict"] == "VALID" for row in _rows(out))


def test_subset(zoo, reported, tmp_path):
    out = tmp_path / "report"
    assert _report(zoo, out, "--subset", "1") == 0
    assert {row["seed"] for row in _rows(out)} == {str(SEEDS[0])}
    assert _rows(out) == [
        {**row, **{column: new[column] for column in report.TIMING_FIELDS}}
        for row, new in zip(_rows(reported)[: len(_rows(out))], _rows(out), strict=True)
    ]


def test_no_models_is_one_line_error(tmp_path, capsys):
    assert zoo_cli.main(["report", "--models", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().startswith("zoo: error: no model files")


def test_beyond_brute_force_the_reference_is_an_estimate_and_says_so(zoo, reported, tmp_path, monkeypatch):
    """With V^n above the report's brute-force limit, no brute force runs; the relative bounds divide by
    the estimate's upper confidence limit, and the CSV, the table and the figure's axis say so."""
    monkeypatch.setattr(report, "BRUTE_FORCE_MAX_SEQUENCES", 5**4 - 1)
    out = tmp_path / "estimated"
    assert _report(zoo, out) == 0  # one job: the patched limit holds in this process
    rows = _rows(out)
    assert {row["strategy"] for row in rows} == {"cubic"}
    exact = {row["model"]: Fraction(row["bound"]) for row in _rows(reported) if row["strategy"] == "brute-force"}
    for row in rows:
        assert row["reference"] == report.ESTIMATED and row["verdict"] == "VALID"
        upper = float(row["reference_accuracy"])
        assert float(exact[row["model"]]) <= upper  # the exact accuracy lies below the upper limit here
        assert float(row["relative_bound"]) == pytest.approx(float(row["bound"]) / upper, rel=1e-9)
    table = (out / "table.md").read_text()
    assert "statistical, not a proof" in table and "relative to the estimated accuracy" in table
    assert "brute-force accuracy |" not in table



def test_rows_record_the_size_of_each_certificate(reported):
    for row in _rows(reported):
        path = reported / "certs" / row["model"] / certificate_filename(row["strategy"])
        assert int(row["certificate_bytes"]) == path.stat().st_size


def test_the_summary_across_settings_reads_the_reports_and_keeps_the_units(zoo, reported, tmp_path, monkeypatch):
    """Two reports of one tiny setting (brute force, and the estimate instead) summarised in one file:
    one reference row and one row per family and setting, the cubic proof alone, costs per model."""
    monkeypatch.setattr(report, "BRUTE_FORCE_MAX_SEQUENCES", 5**4 - 1)
    estimated = tmp_path / "estimated"
    assert _report(zoo, estimated) == 0
    out = tmp_path / "summary.md"
    assert zoo_cli.main(["summary", str(reported), "--out", str(out)]) == 0
    text = out.read_text()
    rows = _rows(reported)
    bounds = [float(row["bound"]) for row in rows if row["strategy"] == "cubic"]
    mean = f"{sum(bounds) / len(bounds):.3f} ({min(bounds):.3f} to {max(bounds):.3f})"
    assert f"| K=4 V=5 | cubic (the paper's cubic proof alone) | 2/2 | {mean} |" in text
    assert "| K=4 V=5 | reference accuracy: brute force (exact up to ties) | 2/2 |" in text
    assert "0.9853" not in text and "KiB" in text  # the paper's K=4 V=64 figures stay off other settings
    assert zoo_cli.main(["summary", str(estimated), "--out", str(out)]) == 0
    assert "reference accuracy: estimate (upper 0.999 limit): statistical, not a proof" in out.read_text()


def test_the_summary_refuses_a_model_name_without_its_setting(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    row = "mystery" + "," * (len(report.RESULT_FIELDS) - 1)
    (tmp_path / "r" / "results.csv").write_text(",".join(report.RESULT_FIELDS) + "\n" + row + "\n")
    assert zoo_cli.main(["summary", str(tmp_path / "r"), "--out", str(tmp_path / "s.md")]) == 2
    assert "max<K>-v<V>-" in capsys.readouterr().err
