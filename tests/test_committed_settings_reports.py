"""The committed per-setting reports (`report/settings/<setting>/`) are about the committed zoos
(`zoo/settings/<setting>/`) and say nothing the checker did not accept.

These tests read committed files only (no proving). Each report row names the digest of the weights it is
about, and the committed model file of that name must have that digest: training bits depend on the
processor, so a report is only reproducible from the files it was made on. Brute force is beyond these
settings' V^K, so no row can be compared with an exact count; every bound is instead compared with its
count's own range (a claim certifies at most V^K sequences).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest

from certificates.model_file import load_model
from prover import strategies
from prover.report import BRUTE_FORCE

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ("max5-v64", "max10-v64", "max20-v64", "max10-v128")
PARTIAL = {"max10-v128": 6}
"""Settings whose report covers only the first N models of its zoo (in seed order): the K = 10, V = 128
report takes about 10 minutes of one core per model on the 2-core machine (docs/RESULTS.md)."""


@functools.cache
def report_rows(setting: str) -> list[dict[str, str]]:
    with open(ROOT / "report" / "settings" / setting / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def zoo_files(setting: str) -> dict[str, Path]:
    return {path.stem: path for path in (ROOT / "zoo" / "settings" / setting).glob("*.safetensors")}


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_report_row_is_about_a_committed_model_with_its_digest(setting):
    files = zoo_files(setting)
    assert len(files) == 16
    digests = {row["model"]: row["model_digest"] for row in report_rows(setting)}
    assert set(digests) <= set(files)
    for model, digest in digests.items():
        assert load_model(files[model]).digest == digest, model


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_reported_model_has_every_strategy_once(setting):
    rows = report_rows(setting)
    models = {row["model"] for row in rows}
    assert len(models) == PARTIAL.get(setting, 16)
    names = {info.name for info in strategies.all_strategies()} - {BRUTE_FORCE}
    pairs = [(row["model"], row["strategy"]) for row in rows]
    assert len(pairs) == len(set(pairs)), "a (model, strategy) pair is reported twice"
    assert set(pairs) == {(model, name) for model in models for name in names}


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_row_is_valid_and_within_its_range(setting):
    k, vocab = (int(part.lstrip("maxv")) for part in setting.split("-"))
    for row in report_rows(setting):
        assert row["verdict"] == "VALID", row
        assert 0 <= int(row["certified_count"]) == int(row["claimed"]) <= vocab**k, row
        assert row["reference"].startswith("estimate"), row
