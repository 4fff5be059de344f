"""Sharded brute force (SPEC 8): the shards partition the input space, each shard's certified set is the
whole-space replay's and within the exact truth, a set of shard certificates is VALID only when it covers
one depth exactly once, a restarted run re-checks what it finds, and hostile shard fields are refused."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compact_proofs as cp
from certificates.codec import Shard
from certificates.errors import InputError
from checker.shard_set import combine_shard_verdicts, shard_paths
from checker.shards import shard_count, shard_scope
from checker.strategies.brute_force import certified_in_shard, certified_sequences
from checker.tables import Tables
from checker.verify import ERROR, EXIT_CODES, INVALID, VALID
from prover.shards import ShardDirectoryError, ShardRun, default_depth, shard_filename
from prover.writers import encode_certificate
from tests.cli_runner import assert_one_line_error, check, run
from tests.exact_reference import ExactAccuracy, exact_accuracy
from tests.model_factory import random_tensors, write_model
from tests.mutations import ERROR as EXPECT_ERROR
from tests.mutations import REJECTED, SOUND, mutations, pack, unpack, with_claim
from tests.trust import by_profile


def shard_slice(array: np.ndarray, shard: Shard) -> np.ndarray:
    """The entries of the [V]*n ``array`` in ``shard``, over its free positions in C order."""
    scope = shard_scope(shard, array.shape[0], array.ndim)
    return array[(*scope.prefix, ..., scope.query)]


def test_the_shards_of_each_depth_partition_the_input_space():
    vocab, n_ctx = 3, 4
    for depth in range(n_ctx - 1):
        hits = np.zeros((vocab,) * n_ctx, dtype=int)
        for index in range(shard_count(vocab, depth)):
            scope = shard_scope(Shard(depth, index), vocab, n_ctx)
            assert scope.free == n_ctx - 1 - depth
            hits[(*scope.prefix, ..., scope.query)] += 1
            digits = [scope.query, *scope.prefix]
            assert index == sum(d * vocab ** (depth - i) for i, d in enumerate(digits))
        assert (hits == 1).all()


@pytest.mark.parametrize(
    ("depth", "index", "n_ctx"), [(3, 0, 4), (0, 3, 4), (1, 9, 4), (0, 0, 1), (5, 0, 4), (0, 10**30, 4)]
)
def test_a_shard_the_model_does_not_have_is_an_input_error(depth, index, n_ctx):
    with pytest.raises(InputError):
        shard_scope(Shard(depth, index), 3, n_ctx)


@settings(max_examples=by_profile(ci=10, long=300), deadline=None)
@given(
    seed=st.integers(0, 2**31),
    shape=st.sampled_from([(2, 2), (5, 2), (4, 3), (3, 4), (4, 4), (3, 5), (2, 6)]),
    d_model=st.integers(1, 4),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_every_shard_equals_the_whole_space_replay_and_stays_within_the_truth(
    tmp_path_factory, seed, shape, d_model, scale
):
    vocab, n_ctx = shape
    tensors = random_tensors(seed, vocab=vocab, n_ctx=n_ctx, d_model=d_model, d_head=d_model, scale=scale)
    weights = write_model(tmp_path_factory.mktemp("m") / "m.safetensors", tensors)
    truth = exact_accuracy(weights)
    whole = certified_sequences(Tables(weights))
    for depth in range(n_ctx - 1):
        total = 0
        for index in range(shard_count(vocab, depth)):
            shard = Shard(depth, index)
            certified = certified_in_shard(Tables(weights), shard_scope(shard, vocab, n_ctx))
            assert np.array_equal(certified, shard_slice(whole, shard)), (depth, index)
            assert not (certified & ~shard_slice(truth.correct, shard)).any(), "certified a wrong sequence"
            total += int(certified.sum())
        assert total == int(whole.sum())


# ----------------------------------------------------------------------------- sets of shards
@dataclass(frozen=True)
class Small:
    """A model with V = 5, n = 4 in ``root``, its exact truth, and the run that proved its shards of depth 1
    into ``root / "proved"``."""

    root: Path
    model: cp.Model
    truth: ExactAccuracy
    run: ShardRun


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Small:
    root = tmp_path_factory.mktemp("shards")
    weights = write_model(root / "m.safetensors", random_tensors(11, vocab=5, n_ctx=4, d_model=4))
    model = cp.load_model(root / "m.safetensors")
    proved = cp.prove_shards(model, root / "proved", depth=1, progress_bar=False)
    return Small(root, model, exact_accuracy(weights), proved)


def copy_of(small: Small, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(small.root / "proved", target)
    return target


def test_a_complete_set_is_valid_and_equals_the_whole_space_brute_force(small):
    assert (small.run.shards, small.run.proved, small.run.kept, small.run.depth) == (25, 25, 0, 1)
    verdict = cp.check_shards(small.root / "proved", small.model)
    assert verdict.status == VALID, verdict.message
    whole = cp.check(cp.prove(small.model, "brute-force"), small.model)
    assert verdict.claimed == small.run.claimed == whole.claimed == whole.certified_count == verdict.certified_count
    assert verdict.certified_count <= small.truth.count and verdict.total == 5**4
    assert verdict.notes == {"shards": 25, "shard_depth": 1}
    assert verdict.flops > 0
    combined = small.run.verdict  # combined from the verdicts made as each shard was proved
    assert (combined.status, combined.claimed, combined.certified_count, combined.flops, combined.notes) == (
        VALID, verdict.claimed, verdict.certified_count, verdict.flops, verdict.notes
    )


def test_a_missing_shard_makes_the_set_invalid(small, tmp_path):
    directory = copy_of(small, tmp_path)
    (directory / shard_filename(1, 7, 25)).unlink()
    verdict = cp.check_shards(directory, small.model)
    assert verdict.status == INVALID and "1 of 25 shards missing, the first 7" in verdict.message


def test_a_shard_counted_twice_makes_the_set_invalid(small, tmp_path):
    directory = copy_of(small, tmp_path)
    shutil.copy(directory / shard_filename(1, 3, 25), directory / "again.cert")
    verdict = cp.check_shards(directory, small.model)
    assert verdict.status == INVALID and "shard 3 appears more than once" in verdict.message


def test_shards_of_two_depths_make_the_set_invalid(small, tmp_path):
    directory = copy_of(small, tmp_path)
    certificate, _ = prove_one(small.model, Shard(0, 2))
    (directory / "other-depth.cert").write_bytes(encode_certificate(certificate))
    verdict = cp.check_shards(directory, small.model)
    assert verdict.status == INVALID and "different depths" in verdict.message


def test_a_whole_space_certificate_in_the_set_makes_it_invalid(small, tmp_path):
    directory = copy_of(small, tmp_path)
    (directory / "whole.cert").write_bytes(encode_certificate(cp.prove(small.model, "brute-force")))
    verdict = cp.check_shards(directory, small.model)
    assert verdict.status == INVALID and "not a shard certificate" in verdict.message


def test_an_inflated_shard_claim_makes_the_set_invalid_and_an_unreadable_one_an_error(small, tmp_path):
    directory = copy_of(small, tmp_path)
    path = directory / shard_filename(1, 4, 25)
    data = path.read_bytes()
    path.write_bytes(with_claim(data, int(unpack(data)["claim"]["value"]) + 1))
    assert cp.check_shards(directory, small.model).status == INVALID
    path.write_bytes(data[:50])
    assert cp.check_shards(directory, small.model).status == ERROR


def test_more_files_than_the_finest_depth_has_shards_is_invalid_before_any_replay(small, tmp_path):
    directory = copy_of(small, tmp_path)
    source = directory / shard_filename(1, 0, 25)
    for copy in range(5**3 - 25 + 1):
        shutil.copy(source, directory / f"copy-{copy}.cert")
    verdict = cp.check_shards(directory, small.model)
    assert verdict.status == INVALID and "more than the 125 shards" in verdict.message and verdict.flops == 0


def test_an_empty_set_and_another_models_shards_are_errors(small, tmp_path):
    (tmp_path / "empty").mkdir()
    assert cp.check_shards(tmp_path / "empty", small.model).status == ERROR
    other = write_model(tmp_path / "other.safetensors", random_tensors(12, vocab=5, n_ctx=4, d_model=4))
    assert other.digest != small.model.weights.digest
    verdict = cp.check_shards(small.root / "proved", cp.load_model(tmp_path / "other.safetensors"))
    assert verdict.status == ERROR and "digest" in verdict.message


def prove_one(model: cp.Model, shard: Shard):
    import torch

    from prover import strategies
    from prover.certify import prove

    return prove(model.weights, strategies.lookup("brute-force"), torch.device("cpu"), shard)


def test_a_restarted_run_rechecks_what_it_finds_and_proves_only_the_rest(small, tmp_path):
    model, first = small.model, small.run
    directory = copy_of(small, tmp_path)
    (directory / shard_filename(1, 0, 25)).unlink()
    (directory / shard_filename(1, 1, 25)).write_bytes(b"\x00 not a certificate")
    shutil.copy(directory / shard_filename(1, 3, 25), directory / shard_filename(1, 2, 25))  # a valid shard 3
    inflated = directory / shard_filename(1, 5, 25)
    data = inflated.read_bytes()
    inflated.write_bytes(with_claim(data, int(unpack(data)["claim"]["value"]) + 1))  # INVALID, so not trusted
    again = cp.prove_shards(model, directory, depth=1, progress_bar=False)
    assert (again.proved, again.kept, again.claimed) == (4, 21, first.claimed)
    assert cp.check_shards(directory, model).status == VALID
    assert cp.prove_shards(model, directory, depth=1, progress_bar=False).proved == 0


def test_a_run_refuses_a_directory_holding_other_certificates(small, tmp_path):
    directory = copy_of(small, tmp_path)
    with pytest.raises(ShardDirectoryError):
        cp.prove_shards(small.model, directory, depth=0, progress_bar=False)


def test_the_default_depth_keeps_shards_at_most_2_to_the_24_and_within_the_default_work_limit():
    assert [default_depth(64, n, 32, 32) for n in (4, 5, 6)] == [0, 0, 1]
    assert default_depth(128, 10, 32, 32) == 6 and default_depth(3, 2, 4, 4) == 0
    assert default_depth(1024, 3, 1024, 1024) == 1  # the exact tables alone exceed the default limit: n-2


# ----------------------------------------------------------------------------- hostile shard fields
@pytest.fixture(scope="module")
def tight_shard(small):
    """A shard certificate whose claim is exactly what the checker certifies in its shard."""
    data = (small.root / "proved" / shard_filename(1, 6, 25)).read_bytes()
    verdict = cp.check(data, small.model)
    assert verdict.status == VALID
    return with_claim(data, verdict.certified_count)


def shard_mutations(data: bytes):
    """(name, expected verdict class, bytes) for every change of the claim's shard map."""
    wire = unpack(data)

    def changed(edit) -> bytes:
        edited = unpack(data)
        edit(edited["claim"])
        return pack(edited)

    def set_field(key, value):
        return lambda claim: claim["shard"].__setitem__(key, value)

    for name, key, value in (
        ("scheme unknown", "scheme", "flat-range"), ("scheme nil", "scheme", None), ("depth n-1", "depth", 3),
        ("depth -1", "depth", -1), ("depth 2^20", "depth", 2**20), ("depth '1'", "depth", "1"),
        ("depth true", "depth", True), ("index V^(depth+1)", "index", "25"), ("index 10^1000", "index", "1" * 1001),
        ("index leading zero", "index", "06"), ("index int", "index", 6), ("index negative", "index", "-6"),
    ):
        yield name, EXPECT_ERROR, changed(set_field(key, value))
    yield "shard extra key", EXPECT_ERROR, changed(set_field("extra", 1))
    yield "shard index missing", EXPECT_ERROR, changed(lambda claim: claim["shard"].pop("index"))
    yield "shard nil", EXPECT_ERROR, changed(lambda claim: claim.__setitem__("shard", None))
    yield "shard a list", EXPECT_ERROR, changed(lambda claim: claim.__setitem__("shard", [1, 6]))
    yield "another shard's index", SOUND, changed(set_field("index", "7"))
    yield "another depth", SOUND, changed(set_field("depth", 0))
    yield "the whole space", SOUND, changed(lambda claim: claim.pop("shard"))
    cubic = unpack(data)
    cubic["strategy"]["name"] = "cubic"
    yield "a shard of cubic", EXPECT_ERROR, pack(cubic)
    assert wire["claim"]["shard"]["index"] == "6"


def assert_sound(verdict, truth, what: str) -> None:
    """A VALID verdict certifies at most the exact count of what it is about."""
    if verdict.status != VALID:
        return
    exact = truth.count if verdict.shard is None else int(shard_slice(truth.correct, verdict.shard).sum())
    assert verdict.certified_count <= exact and verdict.claimed <= exact, what


def test_hostile_shard_fields_and_every_generic_mutation_of_a_shard_certificate(small, tight_shard, tmp_path):
    model, truth = small.model, small.truth
    generic = mutations(
        tight_shard, rng=np.random.default_rng(0), entries=1, max_elements=5**4 * 4**3, other_strategies=["cubic"]
    )
    # Without its shard, the claim is about the whole space, which holds the shard: a sound change.
    relaxed = {"claim key 'shard' missing": SOUND}
    cases = [*shard_mutations(tight_shard), *((m.name, relaxed.get(m.name, m.expect), m.data) for m in generic)]
    assert len(cases) > 50
    for name, expect, data in cases:
        verdict = cp.check(data, model)
        assert verdict.status in EXIT_CODES and verdict.message.isprintable(), name
        assert_sound(verdict, truth, name)
        wanted = {REJECTED: {INVALID, ERROR}, SOUND: set(EXIT_CODES)}.get(expect, {expect})
        assert verdict.status in wanted, f"{name}: expected {expect}, got {verdict.status}: {verdict.message}"


def test_listed_failures_are_numbered_within_the_shard(small, tight_shard):
    wire = unpack(tight_shard)
    wire["trace"][0]["arrays"]["sequences"] = {
        "dtype": "<i8", "shape": [1], "data": np.array([5**2], dtype="<i8").tobytes()
    }
    verdict = cp.check(pack(wire), small.model)
    assert verdict.status == INVALID and "in range" in verdict.message


# ----------------------------------------------------------------------------- command lines
def test_the_command_lines_prove_and_check_a_set_of_shards(small, tmp_path):
    model_path = small.root / "m.safetensors"
    proved = run("-m", "prover.prove_cli", str(model_path), "--shards", str(tmp_path / "s"), "--shard-depth", "0")
    assert proved.returncode == 0, proved.stderr
    assert "brute-force in 5 shards (depth 0) on this process: 5 proved" in proved.stdout
    assert f"VALID: claims {small.run.claimed}/625" in proved.stdout
    checked = check("--shards", tmp_path / "s", "--model", model_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"VALID {tmp_path / 's'}: brute-force in 5 shards (depth 0) proves accuracy >=")
    assert len(checked.stdout.splitlines()) == 1
    (tmp_path / "s" / shard_filename(0, 2, 5)).unlink()
    missing = check("--shards", tmp_path / "s", "--model", model_path)
    assert_one_line_error(missing, EXIT_CODES[INVALID])


@pytest.mark.parametrize(
    "args",
    [["--strategy", "cubic"], ["--shard-depth", "3"], ["--shard-depth", "-1"], ["--out", "x.cert"], ["--jobs", "0"],
     ["--scheduler", "bogus://127.0.0.1:1"]],
    ids=lambda a: " ".join(a),
)
def test_bad_shard_requests_are_one_line_errors(small, tmp_path, args):
    result = run("-m", "prover.prove_cli", str(small.root / "m.safetensors"), "--shards", str(tmp_path / "s"), *args)
    assert_one_line_error(result, 2)


def test_check_takes_certificates_or_a_shard_directory_not_both(small):
    result = check("--shards", small.root / "proved", small.root / "x.cert", "--model", small.root / "m.safetensors")
    assert result.returncode == 2 and "one of the two" in result.stderr


def test_the_partition_formula_reads_the_query_first():
    scope = shard_scope(Shard(2, 1 * 25 + 3 * 5 + 4), 5, 4)
    assert (scope.query, scope.prefix, scope.free) == (1, (3, 4), 1)
    assert list(itertools.islice((shard_scope(Shard(0, i), 5, 4).query for i in range(5)), 5)) == [0, 1, 2, 3, 4]


def test_combined_verdicts_must_be_about_this_model_and_cover_the_depth(small):
    """The coverage step alone (what a cluster's client runs over its workers' verdicts)."""
    verdicts = [cp.check(path, small.model) for path in shard_paths(small.root / "proved")]
    combined = combine_shard_verdicts(verdicts, small.model.checked, "set")
    assert (combined.status, combined.claimed) == (VALID, small.run.claimed)
    assert combine_shard_verdicts(verdicts[:-1], small.model.checked).status == INVALID
    assert combine_shard_verdicts([*verdicts, verdicts[0]], small.model.checked).status == INVALID
    foreign = [replace(verdicts[0], model_digest="0" * 64), *verdicts[1:]]
    result = combine_shard_verdicts(foreign, small.model.checked)
    assert result.status == ERROR and "another model" in result.message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "valid"}, "has no verdict"),
        ({"shard": Shard(1, 25)}, "out of range"),
        ({"shard": Shard(1, -1)}, "out of range"),
        ({"claimed": 10**6}, "within its shard"),
        ({"certified_count": 10**6, "claimed": 10**6}, "within its shard"),
        ({"total": 5**4}, "within its shard"),
        ({"claimed": None}, "within its shard"),
        ({"shard": None}, "not a shard certificate"),
    ],
    ids=lambda value: str(value),
)
def test_hand_made_verdicts_cannot_over_claim(small, change, reason):
    """Verdicts edited after the checker made them (as a caller could pass them) are refused."""
    verdicts = [cp.check(path, small.model) for path in shard_paths(small.root / "proved")]
    verdicts[3] = replace(verdicts[3], **change)
    result = combine_shard_verdicts(verdicts, small.model.checked)
    assert result.status != VALID and reason in result.message, result.message
