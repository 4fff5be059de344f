"""Brute force: the checker's certified set equals the exact truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.codec import read_certificate
from certificates.model_file import load_model
from checker.strategies.brute_force import certified_sequences
from checker.tables import Tables
from checker.verify import max_trace_elements, verify
from prover import strategies
from prover.certify import prove
from prover.strategies import ProofInput
from prover.strategies.brute_force import CLAIM_MARGIN, all_margins
from prover.writers import write_certificate
from tests.exact_reference import exact_accuracy
from tests.model_factory import random_tensors, write_model

MODELS = sorted((Path(__file__).resolve().parent.parent / "models").glob("max4-*.safetensors"))


@settings(max_examples=12)
@given(
    seed=st.integers(0, 2**31),
    vocab=st.integers(2, 6),
    n_ctx=st.integers(2, 3),
    d_model=st.integers(1, 4),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_certified_set_equals_exact_on_tiny_models(tmp_path_factory, seed, vocab, n_ctx, d_model, scale):
    tensors = random_tensors(seed, vocab=vocab, n_ctx=n_ctx, d_model=d_model, d_head=d_model, scale=scale)
    weights = write_model(tmp_path_factory.mktemp("m") / "m.safetensors", tensors)
    truth = exact_accuracy(weights)
    certified = certified_sequences(Tables(weights))
    assert not (certified & ~truth.correct).any(), "certified a sequence that is not correct"
    decidable = np.abs(truth.margins) > 1e-12
    assert np.array_equal(certified[decidable], truth.correct[decidable])


def test_exact_tie_is_never_certified(tmp_path):
    tensors = random_tensors(7, vocab=4, n_ctx=2, d_model=3, d_head=3)
    # Identical unembedding columns for tokens 2 and 3: their logits tie exactly on every input.
    tensors["unembed.W_U"][:, 3] = tensors["unembed.W_U"][:, 2]
    tensors["unembed.b_U"][3] = tensors["unembed.b_U"][2]
    weights = write_model(tmp_path / "tie.safetensors", tensors)
    certified = certified_sequences(Tables(weights))
    tokens = np.indices(certified.shape).reshape(len(certified.shape), -1).T
    labels = tokens.max(axis=1)
    assert not certified.reshape(-1)[np.isin(labels, [2, 3])].any()


def _prove(weights, tmp_path: Path) -> Path:
    certificate, _ = prove(weights, strategies.lookup("brute-force"), torch.device("cpu"))
    path = tmp_path / "bf.cert"
    write_certificate(path, certificate)
    return path


def test_prover_claim_verifies_and_claim_plus_one_does_not(tmp_path):
    weights = write_model(tmp_path / "m.safetensors", random_tensors(3, vocab=6, n_ctx=3, d_model=4))
    path = _prove(weights, tmp_path)
    verdict = verify(path, tmp_path / "m.safetensors")
    assert verdict.status == "VALID", verdict.message
    assert verdict.claimed == exact_accuracy(weights).count == verdict.certified_count
    certificate = read_certificate(path, max_array_elements=max_trace_elements(weights))
    write_certificate(path, replace(certificate, claim_correct=verdict.certified_count + 1))
    assert verify(path, tmp_path / "m.safetensors").status == "INVALID"


@pytest.mark.slow
@pytest.mark.parametrize("model_path", MODELS[:2], ids=lambda p: p.stem)
def test_shipped_model_count_matches_float64_margins(model_path):
    """Certified count = #(float64 margin > 1e-9); sequences with |margin| <= 1e-9 are reported."""
    weights = load_model(model_path)
    margin = all_margins(ProofInput(weights=weights, device=torch.device("cpu"))).numpy()
    certified = certified_sequences(Tables(weights)).reshape(-1)
    small = np.flatnonzero(np.abs(margin) <= CLAIM_MARGIN)
    assert small.size == 0, f"sequences with |margin| <= 1e-9: {small[:20].tolist()}"
    assert int(certified.sum()) == int((margin > CLAIM_MARGIN).sum())
