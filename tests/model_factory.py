"""Small random models for tests: TransformerLens-named float32 tensors and model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from certificates.model_file import ModelWeights, load_model
from prover.writers import save_model


def random_tensors(
    seed: int, *, vocab: int = 5, n_ctx: int = 3, d_model: int = 4, d_head: int = 4,
    scale: float = 1.0, biases: bool = True,
) -> dict[str, np.ndarray]:
    """Gaussian weights (and optionally biases) under TransformerLens names and shapes."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    tensors = {
        "embed.W_E": normal(vocab, d_model),
        "pos_embed.W_pos": normal(n_ctx, d_model),
        "blocks.0.attn.W_Q": normal(1, d_model, d_head),
        "blocks.0.attn.W_K": normal(1, d_model, d_head),
        "blocks.0.attn.W_V": normal(1, d_model, d_head),
        "blocks.0.attn.W_O": normal(1, d_head, d_model),
        "unembed.W_U": normal(d_model, vocab),
    }
    if biases:
        tensors |= {
            "blocks.0.attn.b_Q": normal(1, d_head),
            "blocks.0.attn.b_K": normal(1, d_head),
            "blocks.0.attn.b_V": normal(1, d_head),
            "blocks.0.attn.b_O": normal(d_model),
            "unembed.b_U": normal(vocab),
        }
    return tensors


def write_model(path: Path, tensors: dict[str, np.ndarray]) -> ModelWeights:
    """Save tensors as a model file and read it back through the checker's reader."""
    save_model(path, tensors, config={"task": "max"})
    return load_model(path)
