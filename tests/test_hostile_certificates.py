"""Hostile certificates: every field of a valid certificate of every registered strategy, changed in turn.

Starting from the prover's certificate with its claim made tight (claim = what the checker certifies),
the mutations of :mod:`tests.mutations` (claim, statement, strategy and knobs, keys, steps, dtypes, shapes,
raw bytes, array entries moved to the unsafe side, huge declared sizes, deep nesting, truncation) must
get the verdict their class demands, never a VALID verdict above the exact truth, never an exception,
and never an allocation beyond what the statement allows. A sample also goes through the ``check``
command line in a subprocess, which must agree with :func:`checker.verify.verify` line by line.
"""

from __future__ import annotations

import json
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.verify import ERROR, EXIT_CODES, INVALID, VALID, Verdict, max_trace_elements, verify
from prover.strategies import all_strategies, lookup
from prover.writers import encode_array
from tests.cli_runner import check
from tests.exact_reference import ExactAccuracy, exact_accuracy
from tests.generators import GeneratedModel, ModelSpec, build_model
from tests.mutations import REJECTED, SOUND, Mutation, mutations, pack, unpack, with_claim
from tests.trust import (
    Tally,
    assert_claim_above_truth_refused,
    assert_covered_are_correct,
    assert_not_over_claimed,
    by_profile,
    check_bytes,
    proven_bytes,
    representatives,
    tally,
)

HOSTILE_MODELS = (
    ModelSpec(kind="trained", seed=0, vocab=5, n_ctx=4, d_model=8),
    ModelSpec(kind="trained", seed=1, vocab=5, n_ctx=4, d_model=8),
)
"""Moderate trained models on which every family claims something, so bound arrays are non-empty."""
STRATEGY_NAMES = [info.name for info in all_strategies()]
SAMPLED_MUTATIONS = 40
RELABEL_TARGETS = 3
MEMORY_ALLOWANCE = 64 << 20


@dataclass(frozen=True)
class Base:
    """A tight valid certificate: ``data`` claims exactly what the checker certifies; ``truth`` is exact."""

    strategy: str
    model: GeneratedModel
    truth: ExactAccuracy
    data: bytes
    max_elements: int


class Bases:
    """Base certificates, built on first use (prove, check, make the claim tight, check again)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.models: dict[int, tuple[GeneratedModel, ExactAccuracy]] = {}
        self.bases: dict[tuple[str, int], Base] = {}

    def model(self, index: int) -> tuple[GeneratedModel, ExactAccuracy]:
        if index not in self.models:
            directory = self.directory / f"model{index}"
            directory.mkdir()
            model = build_model(HOSTILE_MODELS[index], directory)
            self.models[index] = model, exact_accuracy(model.weights)
        return self.models[index]

    def get(self, strategy: str, index: int) -> Base:
        key = (strategy, index)
        if key not in self.bases:
            model, truth = self.model(index)
            data = proven_bytes(model.weights, lookup(strategy))
            path = self.directory / "base.cert"
            verdict = check_bytes(path, data, model.path)
            assert verdict.status == VALID, f"{strategy}: prover certificate {verdict.status}: {verdict.message}"
            tight = with_claim(data, verdict.certified_count)
            assert check_bytes(path, tight, model.path).status == VALID
            self.bases[key] = Base(strategy, model, truth, tight, max_trace_elements(model.weights))
        return self.bases[key]


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> Bases:
    return Bases(tmp_path_factory.mktemp("hostile"))


def all_mutations(base: Base, seed: int, entries: int) -> list[Mutation]:
    rng = np.random.default_rng(seed)
    others = [str(name) for name in rng.choice(STRATEGY_NAMES, size=RELABEL_TARGETS, replace=False)]
    return mutations(base.data, rng=rng, entries=entries, max_elements=base.max_elements, other_strategies=others)


def judge(base: Base, mutation: Mutation, path: Path, current: Tally) -> Verdict:
    """Check one hostile certificate and assert everything the suite promises about its verdict."""
    verdict = check_bytes(path, mutation.data, base.model.path)
    current.add(mutations=1, certificates=1)
    what = f"{base.strategy} / {mutation.name}"
    assert verdict.status in EXIT_CODES, what
    assert verdict.message.isprintable(), f"{what}: message {verdict.message!r}"
    assert_not_over_claimed(verdict, base.truth.count, current, what)
    assert_covered_are_correct(mutation.data, verdict, base.truth, base.model.weights, current, what)
    if verdict.status == VALID:
        assert_claim_above_truth_refused(path, mutation.data, base.model.path, base.truth.count, current, what)
    wanted = {REJECTED: {INVALID, ERROR}, SOUND: set(EXIT_CODES)}.get(mutation.expect, {mutation.expect})
    assert verdict.status in wanted, f"{what}: expected {mutation.expect}, got {verdict.status}: {verdict.message}"
    return verdict


@settings(max_examples=by_profile(ci=15, long=1500))
@given(strategy=st.sampled_from(STRATEGY_NAMES), model=st.integers(0, len(HOSTILE_MODELS) - 1),
       seed=st.integers(0, 2**32 - 1))
def test_sampled_mutations_of_every_strategy(bases, tmp_path_factory, strategy, model, seed):
    base = bases.get(strategy, model)
    candidates = all_mutations(base, seed, entries=2)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(candidates), size=min(SAMPLED_MUTATIONS, len(candidates)), replace=False)
    path = tmp_path_factory.mktemp("mutated") / "mutated.cert"
    with tally("hostile-sampled") as current:
        for index in sorted(picked):
            judge(base, candidates[index], path, current)


@pytest.mark.parametrize("strategy", [info.name for info in representatives()])
def test_every_mutation_of_each_family_representative(bases, tmp_path, strategy):
    base = bases.get(strategy, 0)
    with tally("hostile-exhaustive") as current:
        for mutation in all_mutations(base, seed=0, entries=1):
            judge(base, mutation, tmp_path / "mutated.cert", current)


@pytest.mark.parametrize("strategy", [info.name for info in representatives()])
def test_check_cli_agrees_with_verify_on_hostile_certificates(bases, tmp_path, strategy):
    """One mutation per category (and the tight base) through ``check --json`` in one subprocess: one JSON
    line per certificate with verify()'s status, one stderr line per non-VALID verdict, the worst exit code,
    no traceback; the human format for the first family too."""
    base = bases.get(strategy, 1)
    first_of_category: dict[str, Mutation] = {}
    for mutation in all_mutations(base, seed=1, entries=1):
        first_of_category.setdefault(mutation.category, mutation)
    paths, expected = [], []
    for index, data in enumerate([base.data, *(m.data for m in first_of_category.values())]):
        path = tmp_path / f"{index:03d}.cert"
        path.write_bytes(data)
        paths.append(path)
        expected.append(verify(path, base.model.path).status)
    modes = (["--json"], []) if strategy == STRATEGY_NAMES[0] else (["--json"],)
    with tally("hostile-cli") as current:
        for mode in modes:
            result = check(*paths, "--model", base.model.path, *mode)
            current.add(cli_runs=1, cli_certificates=len(paths))
            assert "Traceback" not in result.stderr, result.stderr
            assert result.returncode == max(EXIT_CODES[status] for status in expected), result.stderr
            lines = result.stdout.splitlines()
            assert len(lines) == len(paths), result.stdout
            statuses = [json.loads(line)["status"] if mode else line.split(" ", 1)[0] for line in lines]
            assert statuses == expected
            assert len(result.stderr.splitlines()) == sum(status != VALID for status in expected), result.stderr


def peak_bytes(path: Path, model_path: Path) -> tuple[str, int]:
    """verify()'s status and the peak of the memory traced while it runs."""
    tracemalloc.start()
    try:
        verdict = verify(path, model_path)
        return verdict.status, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("strategy", [info.name for info in representatives()][:3])
def test_verify_allocates_no_more_than_the_statement_allows(bases, tmp_path, strategy):
    """The statement bounds every trace array by ``max_trace_elements`` (8 bytes each); with the tables and
    the replay of a V = 5, n = 4 model that is a few MiB, so verify()'s traced peak must stay below
    MEMORY_ALLOWANCE plus 8 bytes per allowed element, on the honest certificate and on every certificate
    that declares far more than it holds (which must fail before allocating it).

    Fails today: ``certificates.atomic.read_bytes_bounded`` reads with ``handle.read(max_bytes + 1)``, and
    CPython allocates that whole buffer before reading: 1 GiB for every model file (MAX_FILE_BYTES) and
    256 MiB for every certificate, whatever their size. Under ``ulimit -v 1000000`` the ``check`` command
    answers "internal error: MemoryError" (exit 3) for a 400-byte certificate of a 3-token model."""
    base = bases.get(strategy, 0)
    allowance = MEMORY_ALLOWANCE + 8 * base.max_elements
    path = tmp_path / "sized.cert"
    sized = [mutation for mutation in all_mutations(base, seed=2, entries=0) if mutation.category == "sizes"]
    with tally("hostile-memory") as current:
        for name, data, expected in [("honest", base.data, VALID), *((m.name, m.data, ERROR) for m in sized)]:
            path.write_bytes(data)
            status, peak = peak_bytes(path, base.model.path)
            current.add(mutations=int(expected == ERROR))
            assert status == expected, name
            assert peak <= allowance, f"{name}: verify() peaked at {peak:,} bytes > allowance {allowance:,}"


def test_a_failure_list_whose_differences_overflow_int64_is_invalid(bases, tmp_path):
    """Regression, found by this suite (robustness, not soundness): the increasing-order check of the
    listed failures used ``np.diff(listed) <= 0``, whose int64 difference wraps around for ``[1, -2**63]``;
    the list passed, ``-2**63`` reached numpy indexing, verify() raised IndexError and ``check`` exited 3
    ("internal error") instead of answering INVALID."""
    base = bases.get("brute-force", 0)
    wire = unpack(base.data)
    wire["trace"][0]["arrays"]["sequences"] = encode_array(np.array([1, -(2**63)], dtype="<i8"))
    verdict = check_bytes(tmp_path / "overflow.cert", pack(wire), base.model.path)
    assert verdict.status == INVALID and "sequences" in verdict.message


def test_check_cli_prints_nothing_but_verdict_lines_for_a_legal_extreme_hint(bases, tmp_path):
    """Regression, found by this suite (command-line hygiene, not soundness): any chord weight in (0, 1]
    is a sound hint, so 5e-324 for (m, c) = (0, 0), an entry no case uses, keeps the certificate VALID; the
    replay divides by it, and numpy's overflow RuntimeWarnings used to reach ``check``'s stderr, two lines
    each, next to a VALID verdict."""
    base = bases.get("cubic-ov-chord", 0)
    wire = unpack(base.data)
    step = next(step for step in wire["trace"] if step["step"] == "chords")
    weight = np.frombuffer(step["arrays"]["weight"]["data"], dtype="<f8").copy()
    weight[0] = np.finfo(np.float64).smallest_subnormal
    step["arrays"]["weight"]["data"] = weight.tobytes()
    path = tmp_path / "subnormal-chord.cert"
    path.write_bytes(pack(wire))
    result = check(path, "--model", base.model.path)
    assert result.returncode == 0 and result.stdout.startswith("VALID"), result.stdout + result.stderr
    assert not result.stderr, result.stderr
