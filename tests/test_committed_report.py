"""The committed zoo report (`report/`) is complete and says nothing the checker did not accept.

These tests read the committed files only (no proving): they fail when the report is partial, when a row
is not VALID, when a strategy certified more inputs than brute force did on the same model (brute force
is itself a sound lower bound on the true count, so no committed bound can be above the truth), or when
the registry gained a strategy the report does not cover.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prover import strategies
from prover.report import BRUTE_FORCE, model_seed

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "report"
ZOO_MODELS = ROOT / "zoo" / "models"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(REPORT / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_zoo_model_and_every_strategy_has_one_row(rows):
    models = {path.stem for path in ZOO_MODELS.glob("*.safetensors")}
    names = {info.name for info in strategies.all_strategies()}
    pairs = [(row["model"], row["strategy"]) for row in rows]
    assert len(pairs) == len(set(pairs)), "a (model, strategy) pair is reported twice"
    assert set(pairs) == {(model, name) for model in models for name in names}
    assert len(models) == 151


def test_every_row_is_valid_and_below_brute_force(rows):
    brute_force = {row["model"]: int(row["certified_count"]) for row in rows if row["strategy"] == BRUTE_FORCE}
    for row in rows:
        assert row["verdict"] == "VALID", row
        assert int(row["certified_count"]) <= brute_force[row["model"]], row
        assert float(row["relative_bound"]) <= 1.0, row
        assert int(row["seed"]) == model_seed(Path(row["model"] + ".safetensors"))


def test_every_report_file_is_present():
    for name in ("results.csv", "table.md", "pareto.png", "eqke-errors.md"):
        assert (REPORT / name).stat().st_size > 0, name
    assert "151 models" in (REPORT / "table.md").read_text()
