"""The torch model against an independent numpy float64 TransformerLens forward, its TransformerLens state
layout, and the round trip through the model file."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from certificates.model_file import load_model
from prover.model import AttentionOnlyTransformer
from prover.writers import save_model

TL_SHAPES = {
    "embed.W_E": ("V", "d"),
    "pos_embed.W_pos": ("n", "d"),
    "blocks.0.attn.W_Q": (1, "d", "h"),
    "blocks.0.attn.W_K": (1, "d", "h"),
    "blocks.0.attn.W_V": (1, "d", "h"),
    "blocks.0.attn.W_O": (1, "h", "d"),
    "blocks.0.attn.b_Q": (1, "h"),
    "blocks.0.attn.b_K": (1, "h"),
    "blocks.0.attn.b_V": (1, "h"),
    "blocks.0.attn.b_O": ("d",),
    "unembed.W_U": ("d", "V"),
    "unembed.b_U": ("V",),
}

# (V, n, d, h): the Max-of-4 size, d != h both ways, a single position, a long context.
SIZES = [(64, 4, 32, 32), (7, 3, 5, 2), (5, 2, 3, 6), (3, 1, 4, 4), (11, 9, 6, 3)]


def random_tensors(V: int, n: int, d: int, h: int, seed: int) -> dict[str, np.ndarray]:
    """float32 weights under TransformerLens names, every bias nonzero."""
    rng = np.random.default_rng(seed)
    sizes = {"V": V, "n": n, "d": d, "h": h}
    return {
        name: rng.normal(0.0, 0.7, [sizes.get(axis, axis) for axis in shape]).astype(np.float32)
        for name, shape in TL_SHAPES.items()
    }


def model_from_tensors(tensors: dict[str, np.ndarray], dtype: torch.dtype, **kwargs) -> AttentionOnlyTransformer:
    V, d = tensors["embed.W_E"].shape
    n = tensors["pos_embed.W_pos"].shape[0]
    h = tensors["blocks.0.attn.W_Q"].shape[2]
    model = AttentionOnlyTransformer(V, n, d, h, dtype=dtype, **kwargs)
    model.load_state_dict({name: torch.from_numpy(value) for name, value in tensors.items()})
    return model


def reference_logits(tensors: dict[str, np.ndarray], tokens: np.ndarray, scale: float) -> np.ndarray:
    """TransformerLens's forward for one attention-only layer, in float64, one sequence at a time."""
    t = {name: value.astype(np.float64) for name, value in tensors.items()}
    W_Q, W_K, W_V, W_O = (t[f"blocks.0.attn.{w}"][0] for w in ("W_Q", "W_K", "W_V", "W_O"))
    b_Q, b_K, b_V = (t[f"blocks.0.attn.{b}"][0] for b in ("b_Q", "b_K", "b_V"))
    out = []
    for sequence in tokens:
        n = len(sequence)
        resid = t["embed.W_E"][sequence] + t["pos_embed.W_pos"][:n]
        q, k, v = resid @ W_Q + b_Q, resid @ W_K + b_K, resid @ W_V + b_V
        logits = np.empty((n, t["unembed.W_U"].shape[1]))
        for i in range(n):
            scores = np.array([q[i] @ k[j] / scale for j in range(i + 1)])  # keys 0..i: causal
            weights = np.exp(scores - scores.max())
            z = (weights / weights.sum()) @ v[: i + 1]
            attn_out = z @ W_O + t["blocks.0.attn.b_O"]
            logits[i] = (resid[i] + attn_out) @ t["unembed.W_U"] + t["unembed.b_U"]
        out.append(logits)
    return np.stack(out)


def random_tokens(V: int, n: int, batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, size=(batch, n))


def test_state_dict_has_transformer_lens_names_and_shapes() -> None:
    V, n, d, h = 7, 3, 5, 2
    model = AttentionOnlyTransformer(V, n, d, h)
    sizes = {"V": V, "n": n, "d": d, "h": h}
    expected = {name: tuple(sizes.get(axis, axis) for axis in shape) for name, shape in TL_SHAPES.items()}
    assert {name: tuple(value.shape) for name, value in model.state_dict().items()} == expected
    assert (model.d_vocab, model.n_ctx, model.d_model, model.d_head) == (V, n, d, h)
    assert model.attn_scale == math.sqrt(h)


@pytest.mark.parametrize("size", SIZES)
def test_float64_forward_matches_numpy_reference(size: tuple[int, int, int, int]) -> None:
    V, n, d, h = size
    tensors = random_tensors(V, n, d, h, seed=sum(size))
    tokens = random_tokens(V, n, batch=20, seed=1)
    model = model_from_tensors(tensors, torch.float64)
    logits = model(torch.from_numpy(tokens)).detach().numpy()
    assert logits.shape == (20, n, V)
    np.testing.assert_allclose(logits, reference_logits(tensors, tokens, math.sqrt(h)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", SIZES)
def test_float32_forward_matches_numpy_reference(size: tuple[int, int, int, int]) -> None:
    V, n, d, h = size
    tensors = random_tensors(V, n, d, h, seed=sum(size))
    tokens = random_tokens(V, n, batch=20, seed=2)
    logits = model_from_tensors(tensors, torch.float32)(torch.from_numpy(tokens)).detach().numpy()
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, reference_logits(tensors, tokens, math.sqrt(h)), rtol=1e-4, atol=1e-4)


def test_custom_attention_scale_and_short_sequences() -> None:
    V, n, d, h = 6, 5, 4, 3
    tensors = random_tensors(V, n, d, h, seed=3)
    model = model_from_tensors(tensors, torch.float64, attn_scale=1.7)
    tokens = random_tokens(V, 3, batch=10, seed=4)  # shorter than n_ctx, as TransformerLens allows
    logits = model(torch.from_numpy(tokens)).detach().numpy()
    np.testing.assert_allclose(logits, reference_logits(tensors, tokens, 1.7), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="n_ctx"):
        model(torch.zeros(1, n + 1, dtype=torch.long))


def test_attention_is_causal() -> None:
    V, n, d, h = 9, 5, 6, 4
    model = model_from_tensors(random_tensors(V, n, d, h, seed=5), torch.float64)
    tokens = torch.from_numpy(random_tokens(V, n, batch=8, seed=6))
    changed = tokens.clone()
    changed[:, 3:] = (changed[:, 3:] + 1) % V
    before, after = model(tokens), model(changed)
    assert torch.equal(before[:, :3], after[:, :3])
    assert not torch.equal(before[:, 3:], after[:, 3:])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_last_logits_is_the_last_position(dtype: torch.dtype) -> None:
    V, n, d, h = 10, 4, 8, 6
    model = model_from_tensors(random_tensors(V, n, d, h, seed=7), dtype)
    tokens = torch.from_numpy(random_tokens(V, n, batch=50, seed=8))
    last = model.last_logits(tokens)
    assert last.shape == (50, V) and last.dtype == dtype
    tolerance = 1e-13 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(last, model(tokens)[:, -1], rtol=tolerance, atol=tolerance)


def test_to_tensors_is_float32_under_transformer_lens_names() -> None:
    tensors = random_tensors(7, 3, 5, 2, seed=9)
    for dtype in (torch.float32, torch.float64):
        out = model_from_tensors(tensors, dtype).to_tensors()
        assert out.keys() == tensors.keys()
        for name, value in out.items():
            assert value.dtype == np.float32
            np.testing.assert_array_equal(value, tensors[name])


@pytest.mark.parametrize("size", [(64, 4, 32, 32), (7, 3, 5, 2)])
def test_model_file_round_trip_preserves_forward(size: tuple[int, int, int, int], tmp_path) -> None:
    V, n, d, h = size
    tensors = random_tensors(V, n, d, h, seed=10)
    path = tmp_path / "model.safetensors"
    save_model(path, model_from_tensors(tensors, torch.float32).to_tensors(), {"task": "max"})
    tokens = torch.from_numpy(random_tokens(V, n, batch=64, seed=11))
    for dtype in (torch.float32, torch.float64):
        original = model_from_tensors(tensors, dtype)
        loaded = AttentionOnlyTransformer.from_weights(load_model(path), dtype=dtype)
        assert loaded.attn_scale == original.attn_scale
        for name, value in original.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], value), name
        assert torch.equal(loaded(tokens), original(tokens))
