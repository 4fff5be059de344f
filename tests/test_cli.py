"""The command lines end to end: verdicts, exit codes, and one clear line for every bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from certificates.codec import read_certificate
from checker.verify import max_trace_elements
from prover import strategies
from prover.certify import prove
from prover.writers import write_certificate, write_safetensors
from tests.cli_runner import assert_one_line_error, blocking_env, check, run
from tests.model_factory import random_tensors, write_model


@pytest.fixture(scope="module")
def proven(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny model and its brute-force certificate."""
    directory = tmp_path_factory.mktemp("proven")
    model = directory / "model.safetensors"
    weights = write_model(model, random_tensors(11, vocab=5, n_ctx=3, d_model=4))
    certificate, _ = prove(weights, strategies.lookup("brute-force"), torch.device("cpu"))
    cert = directory / "bf.cert"
    write_certificate(cert, certificate)
    return model, cert


def test_valid_certificate(proven):
    model, cert = proven
    result = check(cert, "--model", model)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VALID") and "FLOPs" in result.stdout


def test_json_output(proven):
    model, cert = proven
    result = check(cert, "--model", model, "--json")
    verdict = json.loads(result.stdout)
    assert verdict["status"] == "VALID" and verdict["total"] == 125
    assert Fraction(verdict["bound"]) == Fraction(verdict["claimed"], 125)


@pytest.mark.parametrize("cut", [0, 1, 17, -1])
def test_truncated_certificate_is_error(proven, tmp_path, cut):
    model, cert = proven
    data = cert.read_bytes()
    bad = tmp_path / "bad.cert"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:-1])
    assert_one_line_error(check(bad, "--model", model), 2)


def test_random_bytes_are_error(proven, tmp_path):
    model, _ = proven
    bad = tmp_path / "random.cert"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_one_line_error(check(bad, "--model", model), 2)


def test_other_model_is_error_naming_both_digests(proven, tmp_path):
    _, cert = proven
    other = tmp_path / "other.safetensors"
    weights = write_model(other, random_tensors(12, vocab=5, n_ctx=3, d_model=4))
    result = check(cert, "--model", other)
    assert_one_line_error(result, 2)
    certified_for = read_certificate(cert, max_array_elements=max_trace_elements(weights)).statement.model_digest
    assert certified_for in result.stderr and weights.digest in result.stderr


def _rewrite(cert: Path, model_weights, tmp_path: Path, **changes) -> Path:
    certificate = read_certificate(cert, max_array_elements=max_trace_elements(model_weights))
    path = tmp_path / "changed.cert"
    write_certificate(path, replace(certificate, **changes))
    return path


def test_claim_plus_one_is_invalid(proven, tmp_path):
    model, cert = proven
    weights = write_model(tmp_path / "same.safetensors", random_tensors(11, vocab=5, n_ctx=3, d_model=4))
    certificate = read_certificate(cert, max_array_elements=max_trace_elements(weights))
    changed = _rewrite(cert, weights, tmp_path, claim_correct=certificate.claim_correct + 1)
    result = check(changed, "--model", model)
    assert_one_line_error(result, 1)
    assert result.stdout.startswith("INVALID")


def test_unknown_strategy_is_error(proven, tmp_path):
    model, cert = proven
    weights = write_model(tmp_path / "same.safetensors", random_tensors(11, vocab=5, n_ctx=3, d_model=4))
    result = check(_rewrite(cert, weights, tmp_path, strategy_name="telepathy"), "--model", model)
    assert_one_line_error(result, 2)
    assert "unknown strategy" in result.stderr


def test_nan_weights_are_error(proven, tmp_path):
    _, cert = proven
    tensors = random_tensors(11, vocab=5, n_ctx=3, d_model=4)
    tensors["unembed.W_U"][1, 2] = np.nan
    bad_model = tmp_path / "nan.safetensors"
    write_safetensors(bad_model, tensors, {})
    assert_one_line_error(check(cert, "--model", bad_model), 2)
    assert_one_line_error(run("-m", "prover.prove_cli", str(bad_model)), 2)


def test_two_layer_state_dict_is_error(proven, tmp_path):
    _, cert = proven
    tensors = random_tensors(11, vocab=5, n_ctx=3, d_model=4)
    tensors["blocks.1.attn.W_Q"] = tensors["blocks.0.attn.W_Q"].copy()
    two_layer = tmp_path / "two_layer.safetensors"
    write_safetensors(two_layer, tensors, {})
    result = check(cert, "--model", two_layer)
    assert_one_line_error(result, 2)
    assert "layer" in result.stderr


def test_missing_files_are_errors(proven, tmp_path):
    model, cert = proven
    assert_one_line_error(check(tmp_path / "absent.cert", "--model", model), 2)
    assert_one_line_error(check(cert, "--model", tmp_path / "absent.safetensors"), 2)
    assert_one_line_error(run("-m", "prover.prove_cli", str(tmp_path / "absent.safetensors")), 2)


def test_prove_unknown_strategy_is_error(proven):
    model, _ = proven
    result = run("-m", "prover.prove_cli", str(model), "--strategy", "telepathy")
    assert_one_line_error(result, 2)
    assert "unknown strategy" in result.stderr


def test_check_runs_without_torch_or_prover(proven, tmp_path):
    """The checker works in a process where importing torch, mpmath (a test dependency only) or the
    prover fails."""
    model, cert = proven
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    env = blocking_env(blocker, "torch", "prover", "mpmath")
    probe = run("-c", "import torch", env=env)
    assert probe.returncode != 0 and "blocked" in probe.stderr
    result = check(cert, "--model", model, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VALID")
