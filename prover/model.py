"""The model family the prover reasons about: a one-layer, one-head, attention-only transformer.

The module mirrors TransformerLens's ``HookedTransformer`` with ``attn_only=True``, ``n_layers=1``,
``n_heads=1`` and ``normalization_type=None``: parameters carry TransformerLens's names and shapes
(``state_dict()`` keys ``embed.W_E``, ``pos_embed.W_pos``, ``blocks.0.attn.W_Q`` ... with the
``[1, d_model, d_head]`` head axis, ``unembed.W_U``, ``unembed.b_U``), and the forward pass has its
semantics (SPEC section 1). TransformerLens's buffers (``blocks.0.attn.mask``, ``IGNORE``) are not
part of the state: the causal mask is built on the fly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from certificates.model_file import ModelWeights


class Embed(nn.Module):
    """Token embedding ``W_E`` [d_vocab, d_model]."""

    def __init__(self, d_vocab: int, d_model: int, factory: dict) -> None:
        super().__init__()
        self.W_E = nn.Parameter(torch.zeros(d_vocab, d_model, **factory))


class PosEmbed(nn.Module):
    """Positional embedding ``W_pos`` [n_ctx, d_model]."""

    def __init__(self, n_ctx: int, d_model: int, factory: dict) -> None:
        super().__init__()
        self.W_pos = nn.Parameter(torch.zeros(n_ctx, d_model, **factory))


class Attention(nn.Module):
    """One causal attention head, stored with TransformerLens's leading head axis of length 1."""

    def __init__(self, d_model: int, d_head: int, factory: dict) -> None:
        super().__init__()
        self.W_Q = nn.Parameter(torch.zeros(1, d_model, d_head, **factory))
        self.W_K = nn.Parameter(torch.zeros(1, d_model, d_head, **factory))
        self.W_V = nn.Parameter(torch.zeros(1, d_model, d_head, **factory))
        self.W_O = nn.Parameter(torch.zeros(1, d_head, d_model, **factory))
        self.b_Q = nn.Parameter(torch.zeros(1, d_head, **factory))
        self.b_K = nn.Parameter(torch.zeros(1, d_head, **factory))
        self.b_V = nn.Parameter(torch.zeros(1, d_head, **factory))
        self.b_O = nn.Parameter(torch.zeros(d_model, **factory))


class AttentionBlock(nn.Module):
    """The single transformer block: attention only, no LayerNorm, no MLP."""

    def __init__(self, d_model: int, d_head: int, factory: dict) -> None:
        super().__init__()
        self.attn = Attention(d_model, d_head, factory)


class Unembed(nn.Module):
    """Unembedding ``W_U`` [d_model, d_vocab] and bias ``b_U`` [d_vocab]."""

    def __init__(self, d_model: int, d_vocab: int, factory: dict) -> None:
        super().__init__()
        self.W_U = nn.Parameter(torch.zeros(d_model, d_vocab, **factory))
        self.b_U = nn.Parameter(torch.zeros(d_vocab, **factory))


class AttentionOnlyTransformer(nn.Module):
    """One layer, one head, attention only, causal, no LayerNorm; logits for every position.

    Parameters start at zero; initialisation is the trainer's business. ``attn_scale`` is the ``s`` that
    divides attention scores (TransformerLens's ``attn_scale``), ``sqrt(d_head)`` by default.
    """

    def __init__(
        self,
        d_vocab: int,
        n_ctx: int,
        d_model: int,
        d_head: int,
        *,
        attn_scale: float | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.attn_scale = math.sqrt(d_head) if attn_scale is None else float(attn_scale)
        self.embed = Embed(d_vocab, d_model, factory)
        self.pos_embed = PosEmbed(n_ctx, d_model, factory)
        self.blocks = nn.ModuleList([AttentionBlock(d_model, d_head, factory)])
        self.unembed = Unembed(d_model, d_vocab, factory)

    @property
    def d_vocab(self) -> int:
        """Vocabulary size V (input and output)."""
        return self.embed.W_E.shape[0]

    @property
    def n_ctx(self) -> int:
        """Context length n."""
        return self.pos_embed.W_pos.shape[0]

    @property
    def d_model(self) -> int:
        """Residual stream width d."""
        return self.embed.W_E.shape[1]

    @property
    def d_head(self) -> int:
        """Head width h."""
        return self.blocks[0].attn.W_Q.shape[2]

    @classmethod
    def from_weights(
        cls,
        weights: ModelWeights,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> AttentionOnlyTransformer:
        """Build the model stored in a weight file (as read by ``certificates.model_file.load_model``).

        The float32 values are copied exactly (also exactly into float64); the attention scale is
        ``math.sqrt(float(attn_scale_squared))``, i.e. TransformerLens's ``sqrt(d_head)`` by default.
        """
        model = cls(
            weights.d_vocab,
            weights.n_ctx,
            weights.d_model,
            weights.d_head,
            attn_scale=math.sqrt(weights.attn_scale_squared),
            device=device,
            dtype=dtype,
        )
        head_axis = {"W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V"}
        state = {}
        for name in model.state_dict():
            field = name.rsplit(".", 1)[1]
            value = torch.tensor(np.asarray(getattr(weights, field), dtype=np.float32))
            state[name] = value.unsqueeze(0) if field in head_axis else value
        model.load_state_dict(state)
        return model

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The parameters as float32 numpy arrays under TransformerLens names, ready for ``save_model``.

        A float64 model is rounded to nearest float32.
        """
        return {
            name: value.detach().to(device="cpu", dtype=torch.float32).numpy().copy()
            for name, value in self.state_dict().items()
        }

    def _logits(self, tokens: torch.Tensor, queries: slice) -> torch.Tensor:
        """Logits [batch, queries, d_vocab] at the query positions ``queries`` of ``tokens`` [batch, pos]."""
        attn = self.blocks[0].attn
        n = tokens.shape[-1]
        if n > self.n_ctx:
            raise ValueError(f"sequence length {n} exceeds n_ctx = {self.n_ctx}")
        resid = self.embed.W_E[tokens] + self.pos_embed.W_pos[:n]
        query_resid = resid[:, queries]
        q = query_resid @ attn.W_Q[0] + attn.b_Q[0]
        k = resid @ attn.W_K[0] + attn.b_K[0]
        v = resid @ attn.W_V[0] + attn.b_V[0]
        scores = q @ k.transpose(-1, -2) / self.attn_scale
        query_pos = torch.arange(n, device=tokens.device)[queries]
        key_pos = torch.arange(n, device=tokens.device)
        future = key_pos[None, :] > query_pos[:, None]
        pattern = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        attn_out = (pattern @ v) @ attn.W_O[0] + attn.b_O
        return (query_resid + attn_out) @ self.unembed.W_U + self.unembed.b_U

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits [batch, pos, d_vocab] for integer ``tokens`` [batch, pos] with pos <= n_ctx."""
        return self._logits(tokens, slice(None))

    def last_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits [batch, d_vocab] at the last position, computing only that query (same values as
        ``forward(tokens)[:, -1]`` up to float rounding)."""
        return self._logits(tokens, slice(-1, None))[:, 0]
