"""Statistical estimates (SPEC 8): the per-sequence decisions against exact truth, the binomial interval
against exact binomial tails, and the estimate of a shipped model against its exact accuracy."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compact_proofs as cp
from certificates.safetensors import read_safetensors_file
from checker.strategies.brute_force import decide_sequences
from checker.tables import Tables
from compact_proofs.estimating import clopper_pearson, estimate, regularized_beta
from prover.writers import save_model
from tests.exact_reference import exact_accuracy
from tests.generators import build_model, models, random_models, small_models

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "max4-v64-d32-seed123.safetensors"
SHIPPED_CORRECT = 16_772_320
"""The exact number of correct sequences of the shipped seed-123 model (brute force, docs/RESULTS.md)."""


@settings(max_examples=40, deadline=None)
@given(spec=st.one_of(small_models(), models(), random_models(max_vocab=3, max_n_ctx=6)))
def test_decisions_agree_with_exact_truth(tmp_path_factory, spec):
    """Every sequence proven correct is correct, every one proven wrong is wrong (a tie is wrong), none
    is both; on these models nearly every sequence is decided."""
    model = build_model(spec, tmp_path_factory.mktemp("m"))
    weights = model.weights
    if weights.d_vocab**weights.n_ctx > 4096:
        return
    truth = exact_accuracy(model.weights)
    sequences = np.indices((weights.d_vocab,) * weights.n_ctx).reshape(weights.n_ctx, -1).T
    correct, wrong = decide_sequences(Tables(weights), sequences)
    exact = truth.correct.reshape(-1)
    assert not (correct & wrong).any()
    assert not (correct & ~exact).any(), "proved a wrong sequence correct"
    assert not (wrong & exact).any(), "proved a correct sequence wrong"
    if spec.kind in ("random", "trained", "planted"):  # generic margins: (almost) everything is decided
        assert (correct | wrong).mean() >= 0.9


def test_ties_are_undecided(tmp_path):
    """W_U = 0: every logit equal, every sequence a tie: neither proven correct nor proven wrong, and the
    interval, which counts the undecided as wrong below and right above, is the widest."""
    tensors = dict(read_safetensors_file(SHIPPED).tensors)
    tensors["unembed.W_U"] = np.zeros_like(tensors["unembed.W_U"])
    path = tmp_path / "flat.safetensors"
    save_model(path, tensors, {})
    result = estimate(cp.load_model(path), 2_000, 0.99, seed=1, progress_bar=False)
    assert (result.proven_correct, result.proven_wrong, result.undecided) == (0, 0, 2_000)
    assert result.lower == 0.0 and result.upper == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimate_holds_the_exact_accuracy(seed):
    """Fixed seeds on the shipped model: the exact accuracy lies inside every interval."""
    result = estimate(cp.load_model(SHIPPED), 20_000, 0.999, seed=seed, progress_bar=False)
    exact = SHIPPED_CORRECT / 64**4
    assert result.lower <= exact <= result.upper
    assert result.undecided == 0 and result.upper - result.lower < 0.01


def test_estimates_are_reproducible_per_seed():
    model = cp.load_model(SHIPPED)
    first, again = (estimate(model, 5_000, 0.99, seed=7, progress_bar=False) for _ in range(2))
    assert (first.proven_correct, first.proven_wrong) == (again.proven_correct, again.proven_wrong)


def _binomial_tail(successes: int, trials: int, p: Fraction) -> Fraction:
    """P(X >= successes) for X ~ Binomial(trials, p), exactly."""
    return sum((math.comb(trials, j) * p**j * (1 - p) ** (trials - j) for j in range(successes, trials + 1)),
               Fraction(0))


@settings(max_examples=100, deadline=None)
@given(trials=st.integers(1, 60), data=st.data())
def test_regularized_beta_is_the_binomial_tail(trials, data):
    successes = data.draw(st.integers(1, trials))
    p = Fraction(data.draw(st.integers(1, 999)), 1000)
    exact = _binomial_tail(successes, trials, p)
    assert math.isclose(regularized_beta(float(p), successes, trials - successes + 1), float(exact),
                        rel_tol=1e-10, abs_tol=1e-300)


@settings(max_examples=60, deadline=None)
@given(trials=st.integers(1, 60), data=st.data())
def test_clopper_pearson_limits_solve_their_equations(trials, data):
    """At the lower limit the upper tail is the error level, at the upper limit the lower tail is."""
    successes = data.draw(st.integers(0, trials))
    tail = data.draw(st.sampled_from([0.0005, 0.005, 0.025, 0.1]))
    lower, upper = clopper_pearson(successes, trials, tail)
    assert 0.0 <= lower <= successes / trials <= upper <= 1.0
    if successes > 0:
        assert math.isclose(float(_binomial_tail(successes, trials, Fraction(lower))), tail, rel_tol=1e-8)
    if successes < trials:
        below = 1 - _binomial_tail(successes + 1, trials, Fraction(upper))
        assert math.isclose(float(below), tail, rel_tol=1e-8)


def test_closed_forms_at_the_ends():
    assert clopper_pearson(0, 10, 0.025) == (0.0, pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12))
    assert clopper_pearson(10, 10, 0.025) == (pytest.approx(0.025 ** (1 / 10), rel=1e-12), 1.0)


def test_command_line_labels_the_estimate_and_refuses_bad_input():
    command = [sys.executable, "-m", "prover.estimate_cli"]
    result = subprocess.run([*command, str(SHIPPED), "--samples", "2000", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    fields = json.loads(result.stdout)
    assert "not a proof" in fields["label"] and fields["samples"] == 2000
    assert fields["lower"] <= SHIPPED_CORRECT / 64**4 <= fields["upper"]
    line = subprocess.run([*command, str(SHIPPED), "--samples", "500"], capture_output=True, text=True).stdout
    assert line.startswith("ESTIMATE ") and "not a proof" in line
    for bad in (["/no/such/model.safetensors"], [str(SHIPPED), "--samples", "0"], [str(SHIPPED), "--confidence", "1"]):
        refused = subprocess.run([*command, *bad], capture_output=True, text=True)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr and refused.stdout == ""
