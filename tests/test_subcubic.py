"""Subcubic family end to end (SPEC 5.3): soundness against brute force, one-ulp claim mutations,
adversarial certificates and the EQKE error table.

Truth is the checker's brute-force replay (:func:`checker.strategies.brute_force.certified_sequences`,
which certifies exactly the correct sequences up to exact ties). The sequences a subcubic certificate
covers are enumerated directly from its ``good`` and ``gap`` tables, independently of the counting formula.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.codec import Certificate, TraceStep
from certificates.model_file import ModelWeights, load_model
from checker.replay import InvalidCertificate
from checker.strategies.brute_force import certified_sequences
from checker.strategies.subcubic import NAMES, strategy_name
from checker.tables import Tables
from checker.verify import replay, verify
from prover import strategies, subcubic_search
from prover.certify import prove
from prover.eqke_errors import eqke_error_rows
from prover.prove_cli import main as prove_main
from prover.strategies import subcubic as subcubic_strategy
from prover.training import train_model
from prover.writers import save_model, write_certificate
from tests.coverage import subcubic_covered
from tests.model_factory import random_tensors

MODELS = sorted((Path(__file__).resolve().parent.parent / "models").glob("max4-*.safetensors"))
EXAMPLE_MODEL = [path for path in MODELS if path.stem.endswith("seed123")]
MUTATED = [("eqke-errors", "eps", -1), ("attention", "alpha_lo", 1), ("attention", "alpha_hi", -1),
           ("bounds", "bound", -1)]
SAMPLE_CONFIGURATIONS = [
    strategy_name("max-diff-exact", "drop-average-query", "exact"),
    strategy_name("global-max-diff-exact", "mean-query+diff", "svd"),
    strategy_name("mean-query+max-diff", "mean-query+diff", "mean+max-diff-subproduct"),
    strategy_name("svd-query+max-diff", "drop-average-query", "max-diff-exact"),
    strategy_name("max-diff", "mean-query+diff", "mean-recursive+max-diff-subproduct-recursive"),
]


@functools.cache
def trained_tensors(seed: int, vocab: int, n_ctx: int, d_model: int) -> dict[str, np.ndarray]:
    """A small Max-of-n model trained for 1500 steps (cached; fewer leave the subcubic bounds near 0)."""
    return train_model(seed, k=n_ctx, d_vocab=vocab, d_model=d_model, steps=1500, progress=False).to_tensors()


def write(directory: Path, tensors: dict[str, np.ndarray]) -> tuple[Path, ModelWeights]:
    path = directory / "model.safetensors"
    save_model(path, tensors, config={"task": "max"})
    return path, load_model(path)


def certificate_tables(certificate: Certificate) -> tuple[np.ndarray, np.ndarray]:
    arrays = next(step for step in certificate.trace if step.step == "gaps").arrays
    return arrays["good"], arrays["gap"]


def prove_and_check(directory: Path, model_path: Path, weights: ModelWeights, name: str):
    certificate, _ = prove(weights, strategies.lookup(name), torch.device("cpu"))
    path = directory / "proof.cert"
    write_certificate(path, certificate)
    return certificate, verify(path, model_path)


def assert_sound(certificate: Certificate, verdict, truth: np.ndarray) -> None:
    assert verdict.status == "VALID", verdict.message
    good, gap = certificate_tables(certificate)
    covered = subcubic_covered(good, gap)
    assert int(covered.sum()) == verdict.certified_count == certificate.claim_correct
    assert not (covered & ~truth).any(), "covers a sequence that brute force does not certify"


# ----------------------------------------------------------------------------- soundness
small_models = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31), "vocab": st.integers(3, 7), "n_ctx": st.integers(2, 4),
    "d_model": st.integers(2, 6), "scale": st.sampled_from([0.3, 1.0, 3.0]), "biases": st.booleans(),
    "trained": st.booleans(), "name": st.sampled_from(NAMES),
})
TRAINED_SHAPES = [(6, 3, 8), (8, 3, 8), (5, 4, 8)]


@settings(max_examples=max(10, settings.default.max_examples // 3))
@given(small_models)
def test_certified_sequences_are_correct_on_small_models(tmp_path_factory, spec):
    directory = tmp_path_factory.mktemp("model")
    if spec["trained"]:
        vocab, n_ctx, d_model = TRAINED_SHAPES[spec["seed"] % len(TRAINED_SHAPES)]
        tensors = trained_tensors(0, vocab, n_ctx, d_model)
    else:
        tensors = random_tensors(
            spec["seed"], vocab=spec["vocab"], n_ctx=spec["n_ctx"], d_model=spec["d_model"],
            d_head=spec["d_model"], scale=spec["scale"], biases=spec["biases"],
        )
    model_path, weights = write(directory, tensors)
    certificate, verdict = prove_and_check(directory, model_path, weights, spec["name"])
    assert_sound(certificate, verdict, certified_sequences(Tables(weights)))


def test_trained_small_model_gets_a_useful_bound(tmp_path):
    model_path, weights = write(tmp_path, trained_tensors(0, 6, 3, 8))
    truth = certified_sequences(Tables(weights))
    certificate, verdict = prove_and_check(tmp_path, model_path, weights, SAMPLE_CONFIGURATIONS[0])
    assert_sound(certificate, verdict, truth)
    assert verdict.certified_count > 0.6 * truth.sum()


# ----------------------------------------------------------------------------- one-ulp mutations
def mutate(certificate: Certificate, step_name: str, array: str, index: int, direction: int) -> Certificate:
    """The certificate with one claim moved one float32 step in ``direction``."""
    steps = []
    for step in certificate.trace:
        if step.step == step_name:
            values = step.arrays[array].copy()
            values[index] = np.nextafter(values[index], np.float32(direction * np.inf))
            step = TraceStep(step.step, step.arrays | {array: values})
        steps.append(step)
    return dataclasses.replace(certificate, trace=tuple(steps))


def claim_array(certificate: Certificate, step_name: str, array: str) -> np.ndarray:
    return next(step for step in certificate.trace if step.step == step_name).arrays[array]


def assert_every_sampled_mutation_fails(certificate, tables, picks: int, seed: int) -> None:
    replay(certificate, tables)  # the original verifies
    rng = np.random.default_rng(seed)
    for step_name, array, direction in MUTATED:
        size = claim_array(certificate, step_name, array).size
        assert size > 0, f"{certificate.strategy_name}: no {array} claims to mutate"
        for index in {0, size - 1, *rng.integers(0, size, picks).tolist()}:
            with pytest.raises(InvalidCertificate) as failure:
                replay(mutate(certificate, step_name, array, index, direction), tables)
            assert failure.value.step == step_name and failure.value.array == array


@pytest.mark.parametrize("name", SAMPLE_CONFIGURATIONS)
def test_one_ulp_unsafe_claims_are_invalid_small_model(tmp_path, name):
    _, weights = write(tmp_path, trained_tensors(0, 8, 3, 8))
    certificate, _ = prove(weights, strategies.lookup(name), torch.device("cpu"))
    assert_every_sampled_mutation_fails(certificate, Tables(weights), picks=3, seed=0)


# ----------------------------------------------------------------------------- adversarial certificates
@pytest.fixture(scope="module")
def small_certificate(tmp_path_factory):
    _, weights = write(tmp_path_factory.mktemp("adv"), trained_tensors(0, 6, 3, 8))
    certificate, _ = prove(weights, strategies.lookup(SAMPLE_CONFIGURATIONS[1]), torch.device("cpu"))
    return certificate, Tables(weights)


def replace_array(certificate: Certificate, step_name: str, array: str, values: np.ndarray) -> Certificate:
    steps = tuple(
        TraceStep(step.step, step.arrays | {array: values}) if step.step == step_name else step
        for step in certificate.trace
    )
    return dataclasses.replace(certificate, trace=steps)


def test_bad_gaps_and_cases_are_rejected(small_certificate):
    certificate, tables = small_certificate
    good, gap = certificate_tables(certificate)
    q, m, c = (int(axis[-1]) for axis in np.nonzero(good & (np.arange(good.shape[2]) >= 2)[None, None, :]))
    bad_gap = gap.copy()
    bad_gap[q, m, c] = m + 1
    with pytest.raises(InvalidCertificate, match="gap out of range"):
        replay(replace_array(certificate, "gaps", "gap", bad_gap), tables)
    outside = good.copy()
    outside[1, 0, 0] = True
    with pytest.raises(InvalidCertificate, match="outside the case grid"):
        replay(replace_array(certificate, "gaps", "good", outside), tables)


def test_widening_a_gap_claim_without_new_bounds_fails(small_certificate):
    """A smaller gap covers more sequences; the old bounds must then fail (or the case still verify)."""
    certificate, tables = small_certificate
    good, gap = certificate_tables(certificate)
    widened = np.where(good & (gap > 1), gap - 1, gap).astype("<i4")
    if not (widened != gap).any():
        pytest.skip("no gap to widen")
    with pytest.raises(InvalidCertificate):
        replay(replace_array(certificate, "gaps", "gap", widened), tables)


def test_nonnegative_bound_and_wrong_sizes_are_rejected(small_certificate):
    certificate, tables = small_certificate
    bound = claim_array(certificate, "bounds", "bound").copy()
    bound[0] = 0.0
    with pytest.raises(InvalidCertificate, match=">= 0"):
        replay(replace_array(certificate, "bounds", "bound", bound), tables)
    with pytest.raises(InvalidCertificate, match="bounds"):
        replay(replace_array(certificate, "bounds", "bound", bound[1:]), tables)


def test_name_decides_the_knobs(small_certificate):
    certificate, tables = small_certificate
    other = dataclasses.replace(certificate, strategy_name=strategy_name("max-diff", "mean-query+diff", "svd"))
    with pytest.raises(InvalidCertificate):
        replay(other, tables)


# ----------------------------------------------------------------------------- EQKE error table
def test_eqke_error_table_orders_its_rows(tmp_path, capsys):
    model_path, weights = write(tmp_path, trained_tensors(0, 6, 3, 8))
    rows = eqke_error_rows(weights, torch.device("cpu"))
    assert [row.label for row in rows] == [
        "exact max row diff", "2 max|Err|", "max row diff on the subproduct", "recursive max row diff"]
    exact, twice_max, _, _ = (row.bound for row in rows)
    assert exact <= twice_max and all(row.flops > 0 for row in rows)
    assert prove_main([str(model_path), "--eqke-error-table"]) == 0
    assert "recursive max row diff" in capsys.readouterr().out


# ----------------------------------------------------------------------------- blocked gap search
@pytest.mark.parametrize(("vocab", "n_ctx"), [(2, 2), (7, 3), (12, 5), (30, 4)])
def test_max_token_blocks_partition_the_candidates_within_the_limit(vocab, n_ctx):
    per_max = subcubic_search.candidates_per_max(vocab, n_ctx)
    assert per_max.sum() == subcubic_search.candidate_cases(vocab, n_ctx)[0].size
    for limit in (1, 50, 10**9):
        blocks = subcubic_search.max_token_blocks(vocab, n_ctx, limit)
        assert np.array_equal(np.concatenate(blocks), np.arange(vocab))
        for block in blocks:
            assert block.size == 1 or per_max[block].sum() <= limit
            cases = subcubic_search.candidate_cases(vocab, n_ctx, block)
            assert np.isin(cases[1], block).all() and cases[1].size == per_max[block].sum()


def certificate_arrays(weights: ModelWeights, name: str) -> dict[str, np.ndarray]:
    subcubic_strategy._cache.clear()
    certificate, _ = prove(weights, strategies.lookup(name), torch.device("cpu"))
    arrays = {f"{step.step}/{key}": value for step in certificate.trace for key, value in step.arrays.items()}
    return {"claim": np.array(certificate.claim_correct), **arrays}


@pytest.mark.parametrize("name", SAMPLE_CONFIGURATIONS[:3])
def test_the_blocked_gap_search_gives_the_unblocked_certificate(monkeypatch, tmp_path, name):
    _, weights = write(tmp_path, trained_tensors(0, 6, 3, 8))
    whole = certificate_arrays(weights, name)
    monkeypatch.setattr(subcubic_search, "BLOCK_CASES", 5)
    for kept in (subcubic_search.KEPT_CASES, 0):
        monkeypatch.setattr(subcubic_search, "KEPT_CASES", kept)
        blocked = certificate_arrays(weights, name)
        assert blocked.keys() == whole.keys()
        for key, value in whole.items():
            assert np.array_equal(blocked[key], value), key


# ----------------------------------------------------------------------------- shipped models (slow)
@functools.cache
def shipped_truth(path: Path) -> np.ndarray:
    return certified_sequences(Tables(load_model(path)))


@pytest.mark.slow
@pytest.mark.parametrize("model_path", EXAMPLE_MODEL, ids=lambda p: p.stem)
def test_every_configuration_is_sound_on_the_example_model(tmp_path, model_path):
    weights = load_model(model_path)
    truth = shipped_truth(model_path)
    for name in NAMES:
        certificate, verdict = prove_and_check(tmp_path, model_path, weights, name)
        assert_sound(certificate, verdict, truth)


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLE_CONFIGURATIONS)
def test_one_ulp_unsafe_claims_are_invalid_example_model(name):
    weights = load_model(EXAMPLE_MODEL[0])
    certificate, _ = prove(weights, strategies.lookup(name), torch.device("cpu"))
    assert_every_sampled_mutation_fails(certificate, Tables(weights), picks=4, seed=1)
