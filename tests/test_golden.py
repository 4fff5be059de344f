"""Golden examples, drat-trim style: committed certificates of a tiny model with the checker's expected
answers (``examples/golden/expected.json``, made by ``examples/golden/make_golden.py``).

One certificate per strategy family and a few hostile ones; the ``check`` command, run once on all of them
in a subprocess, must give exactly the recorded verdict, counts, FLOPs (cost model v2) and message; so must
``check --shards`` on the brute force in shards. A
change to any replay, to the kernel's charges or to the cost model shows up here as a changed number, to be
explained and the goldens regenerated on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from certificates.model_file import load_model
from checker.kernel.flops import COST_MODEL_VERSION
from tests.cli_runner import check
from tests.mutations import pack, unpack

GOLDEN = Path(__file__).resolve().parent.parent / "examples" / "golden"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())
FAMILIES = ("brute-force", "cubic", "cubic-ov-chord", "subcubic/")
EXPECTED_VOCAB = 8


def test_the_goldens_cover_every_family_and_the_current_cost_model():
    strategies = [entry["strategy"] for entry in EXPECTED["certificates"] if entry["status"] == "VALID"]
    assert all(any(name.startswith(family) for name in strategies) for family in FAMILIES)
    assert sum(name.startswith("subcubic/") for name in strategies) == 6  # one per subcubic family
    assert {"INVALID", "ERROR"} <= {entry["status"] for entry in EXPECTED["certificates"]}
    assert EXPECTED["cost_model"] == COST_MODEL_VERSION
    assert load_model(GOLDEN / EXPECTED["model"]).digest == EXPECTED["model_digest"]


def test_check_answers_exactly_what_was_recorded():
    entries = EXPECTED["certificates"]
    result = check(*(GOLDEN / entry["file"] for entry in entries), "--model", GOLDEN / EXPECTED["model"], "--json")
    assert "Traceback" not in result.stderr
    assert result.returncode == 2  # the worst verdict: the recorded ERROR
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(entries)
    for entry, answer in zip(entries, answers, strict=True):
        assert answer["certificate"].endswith(entry["file"])
        got = {key: answer[key] for key in ("strategy", "status", "claimed", "certified_count", "flops", "message")}
        got["bookkeeping_ops"] = answer["bookkeeping_ops"]
        want = {key: entry[key] for key in got}
        assert got == want, entry["file"]
        assert answer["cost_model"] == COST_MODEL_VERSION


def test_check_answers_exactly_what_was_recorded_for_the_shards():
    entry = EXPECTED["shard_set"]
    result = check("--shards", GOLDEN / entry["directory"], "--model", GOLDEN / EXPECTED["model"], "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    got = {key: answer[key] for key in ("status", "claimed", "certified_count", "flops", "message")}
    assert got == {key: entry[key] for key in got}
    whole = next(e for e in EXPECTED["certificates"] if e["file"] == "brute-force.cert")
    assert answer["claimed"] == whole["claimed"] and answer["notes"] == {"shards": EXPECTED_VOCAB, "shard_depth": 0}


def test_an_unused_gap_beyond_the_max_is_harmless(tmp_path):
    """Regression (review of issue 12): a case with no non-query non-max slot (j = 0) never uses its gap, so
    any gap in 1..V-1 is a legal hint, also one above m + 1; the count once turned it into a negative
    number of choices and ``check`` exited 3. It must give the same verdict and count as the original."""
    entry = next(e for e in EXPECTED["certificates"] if e["file"].endswith("attn-err-exact.cert")
                 and "max-diff-exact" in e["file"])
    wire = unpack((GOLDEN / entry["file"]).read_bytes())
    gaps = next(step for step in wire["trace"] if step["step"] == "gaps")["arrays"]["gap"]
    values = np.frombuffer(gaps["data"], dtype="<i4").reshape(gaps["shape"]).copy()
    values[0, 2, 1] = EXPECTED_VOCAB - 1  # (q, m, c) = (0, 2, 1): j = 0; the gap 7 exceeds m + 1 = 3
    gaps["data"] = values.tobytes()
    path = tmp_path / "unused-gap.cert"
    path.write_bytes(pack(wire))
    result = check(path, "--model", GOLDEN / EXPECTED["model"], "--json")
    answer = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert (answer["status"], answer["certified_count"]) == ("VALID", entry["certified_count"])
