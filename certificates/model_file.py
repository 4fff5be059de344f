"""The model file: a safetensors file with TransformerLens names, read strictly (SPEC section 1).

``load_model`` returns only a model the checker supports: one layer, one head, attention only, no
LayerNorm, d_vocab_out = d_vocab, n_ctx >= 2, every read tensor float32 and finite, every shape
consistent, and a "config" metadata entry (if any) that agrees with all of this. Anything else raises
ModelFileError with a one-line reason. Buffers (the causal mask, IGNORE) and hook names are ignored.

The digest (statement format v2, SPEC section 9) identifies the function a certificate speaks about:
SHA-256 over a domain tag, then the read tensors present in the file, sorted by name, each contributing
``name \\0 comma-separated shape \\0 little-endian float32 bytes``, then the attention scale squared as
an exact rational ``p/q``, then the honoured config keys (:func:`certificates.model_config.honoured_config`).
Two files that compute different functions (other weights, scale or honoured config) have different
digests; metadata (seed, learning rate) does not enter it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from certificates.errors import ModelFileError, short_repr
from certificates.model_config import attn_scale_squared, honoured_config, read_config
from certificates.safetensors import MAX_FILE_BYTES, SafetensorsFile, decode_safetensors, read_safetensors_file

HEAD_AXIS = 1
"""The literal leading axis (n_heads, which must be 1) in TENSOR_NAMES."""

TENSOR_NAMES: dict[str, tuple[str | int, ...]] = {
    "embed.W_E": ("V", "d"),
    "pos_embed.W_pos": ("n", "d"),
    "blocks.0.attn.W_Q": (HEAD_AXIS, "d", "h"),
    "blocks.0.attn.W_K": (HEAD_AXIS, "d", "h"),
    "blocks.0.attn.W_V": (HEAD_AXIS, "d", "h"),
    "blocks.0.attn.W_O": (HEAD_AXIS, "h", "d"),
    "blocks.0.attn.b_Q": (HEAD_AXIS, "h"),
    "blocks.0.attn.b_K": (HEAD_AXIS, "h"),
    "blocks.0.attn.b_V": (HEAD_AXIS, "h"),
    "blocks.0.attn.b_O": ("d",),
    "unembed.W_U": ("d", "V"),
    "unembed.b_U": ("V",),
}
"""Every tensor the checker reads, with its TransformerLens shape in terms of V (d_vocab), n (n_ctx),
d (d_model) and h (d_head); the leading 1 is the head axis."""

REQUIRED_TENSORS = (
    "embed.W_E",
    "pos_embed.W_pos",
    "blocks.0.attn.W_Q",
    "blocks.0.attn.W_K",
    "blocks.0.attn.W_V",
    "blocks.0.attn.W_O",
    "unembed.W_U",
)
"""The read tensors that must be present; a missing bias means zero."""

IGNORED_TENSORS = ("blocks.0.attn.mask", "blocks.0.attn.IGNORE")
CONFIG_KEY = "config"

_LAYER_PATTERN = re.compile(r"blocks\.(\d+)\.")


@dataclass(frozen=True)
class ModelWeights:
    """The weights as read-only float32 arrays (head axis squeezed; missing biases are zeros)."""

    W_E: np.ndarray
    W_pos: np.ndarray
    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    b_Q: np.ndarray  # noqa: N815 (TransformerLens name)
    b_K: np.ndarray  # noqa: N815 (TransformerLens name)
    b_V: np.ndarray  # noqa: N815 (TransformerLens name)
    b_O: np.ndarray  # noqa: N815 (TransformerLens name)
    W_U: np.ndarray
    b_U: np.ndarray  # noqa: N815 (TransformerLens name)
    attn_scale_squared: Fraction
    digest: str
    config: dict

    @property
    def d_vocab(self) -> int:
        return int(self.W_E.shape[0])

    @property
    def n_ctx(self) -> int:
        return int(self.W_pos.shape[0])

    @property
    def d_model(self) -> int:
        return int(self.W_E.shape[1])

    @property
    def d_head(self) -> int:
        return int(self.W_Q.shape[1])


def load_model(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> ModelWeights:
    """The validated weights in the safetensors file at ``path``; ModelFileError otherwise.

    A missing file gives ModelFileError("cannot read model PATH: no such file"); a file of more than
    ``max_bytes`` bytes is refused before it is read.
    """
    parsed = read_safetensors_file(path, max_bytes=max_bytes)
    try:
        return _weights_from(parsed)
    except ModelFileError as error:
        raise ModelFileError(f"model {os.fspath(path)}: {error}") from None


def load_model_bytes(data: bytes) -> ModelWeights:
    """The validated weights in the safetensors bytes ``data`` (the contents of a model file, e.g. built
    in memory from a state dict); ModelFileError otherwise. Same checks and digest as :func:`load_model`."""
    return _weights_from(decode_safetensors(data))


DIGEST_DOMAIN = b"compact-proofs statement v2\0"


def model_digest(tensors: dict[str, np.ndarray], *, attn_scale_squared: Fraction, config: dict) -> str:
    """Hex SHA-256 of the statement (module docstring): DIGEST_DOMAIN; the entries of ``tensors`` whose
    names are in TENSOR_NAMES (others, such as buffers, are ignored), sorted by name, each hashed as
    name, NUL, comma-separated shape, NUL, little-endian float32 bytes; ``attn_scale_squared`` as
    "p/q", NUL; the honoured keys of ``config``. Independent of dict order. Raises ValueError for a
    non-float32 tensor.
    """
    digest = hashlib.sha256(DIGEST_DOMAIN)
    for name in sorted(name for name in tensors if name in TENSOR_NAMES):
        values = np.asarray(tensors[name])
        if values.dtype.kind != "f" or values.dtype.itemsize != 4:
            raise ValueError(f"tensor {name!r} has dtype {values.dtype}; the digest is over float32 values")
        digest.update(name.encode() + b"\0" + ",".join(map(str, values.shape)).encode() + b"\0")
        digest.update(np.ascontiguousarray(values, dtype="<f4").tobytes())
    scale = Fraction(attn_scale_squared)
    digest.update(f"attn_scale_squared\0{scale.numerator}/{scale.denominator}\0".encode())
    digest.update(b"config\0" + honoured_config(config))
    return digest.hexdigest()


def _weights_from(parsed: SafetensorsFile) -> ModelWeights:
    """Validate a parsed file against SPEC section 1 and assemble its weights."""
    names = list(parsed.tensors)
    _check_names(names)
    read = {name: parsed.tensors[name] for name in names if name in TENSOR_NAMES}
    _check_dtypes(read, parsed.dtypes)
    sizes = _sizes_from(read)
    for name, values in read.items():
        if not np.isfinite(values).all():
            raise ModelFileError(f"tensor {name} contains NaN or inf")
    config = read_config(parsed.metadata.get(CONFIG_KEY), sizes)
    h = sizes["h"]
    scale_squared = attn_scale_squared(config, h)
    return ModelWeights(
        W_E=read["embed.W_E"],
        W_pos=read["pos_embed.W_pos"],
        W_Q=read["blocks.0.attn.W_Q"][0],
        W_K=read["blocks.0.attn.W_K"][0],
        W_V=read["blocks.0.attn.W_V"][0],
        W_O=read["blocks.0.attn.W_O"][0],
        b_Q=_bias(read, "blocks.0.attn.b_Q", h),
        b_K=_bias(read, "blocks.0.attn.b_K", h),
        b_V=_bias(read, "blocks.0.attn.b_V", h),
        b_O=_bias(read, "blocks.0.attn.b_O", sizes["d"]),
        W_U=read["unembed.W_U"],
        b_U=_bias(read, "unembed.b_U", sizes["V"]),
        attn_scale_squared=scale_squared,
        digest=model_digest(read, attn_scale_squared=scale_squared, config=config),
        config=config,
    )


def _check_names(names: list[str]) -> None:
    """Reject, in this order: a second layer, an MLP, LayerNorm weights, an unknown name (buffers and
    hooks are known), a missing required tensor."""
    for name in names:
        layer = _LAYER_PATTERN.match(name)
        if layer is not None and int(layer[1]) != 0:
            raise ModelFileError(
                f"model has two or more layers (tensor {short_repr(name)}); one is supported"
            )
    for name in names:
        if name.startswith("blocks.0.mlp."):
            raise ModelFileError(
                f"model has an MLP (tensor {short_repr(name)}); only attention-only is supported"
            )
    for name in names:
        if any(part.startswith("ln") or "norm" in part.lower() for part in name.split(".")):
            raise ModelFileError(
                f"model has LayerNorm weights (tensor {short_repr(name)}); none are supported"
            )
    for name in names:
        ignored = name in IGNORED_TENSORS or name.rsplit(".", 1)[-1].startswith("hook")
        if name not in TENSOR_NAMES and not ignored:
            raise ModelFileError(f"unknown tensor {short_repr(name)}")
    for name in REQUIRED_TENSORS:
        if name not in names:
            raise ModelFileError(f"missing tensor {name}")


def _check_dtypes(read: dict[str, np.ndarray], dtypes: dict[str, str]) -> None:
    """Every read tensor must be stored as F32 (float32)."""
    for name in read:
        if dtypes[name] != "F32":
            raise ModelFileError(
                f"tensor {name} has dtype {dtypes[name]}; the checker reads F32 (float32) only"
            )


def _sizes_from(read: dict[str, np.ndarray]) -> dict[str, int]:
    """V, n, d, h from the embeddings and W_Q, after checking every read shape against TENSOR_NAMES."""
    for name, values in read.items():
        template = TENSOR_NAMES[name]
        if values.ndim != len(template):
            raise ModelFileError(f"tensor {name} has shape {list(values.shape)}, expected {_shown(template)}")
        if template[0] == HEAD_AXIS and values.shape[0] != 1:
            raise ModelFileError(f"model has {values.shape[0]} heads (tensor {name}); one is supported")
    V, d = read["embed.W_E"].shape
    sizes = {"V": V, "n": read["pos_embed.W_pos"].shape[0], "d": d, "h": read["blocks.0.attn.W_Q"].shape[2]}
    V_out = read["unembed.W_U"].shape[1]
    if V_out != V:
        raise ModelFileError(f"unembedding has V_out = {V_out} outputs but V = {V} tokens (V_out != V)")
    for name, values in read.items():
        expected = [sizes[dim] if isinstance(dim, str) else dim for dim in TENSOR_NAMES[name]]
        if list(values.shape) != expected:
            shown = _shown(TENSOR_NAMES[name])
            raise ModelFileError(
                f"tensor {name} has shape {list(values.shape)}, expected {expected} = {shown}"
            )
    if sizes["n"] < 2:
        raise ModelFileError(f"n_ctx = {sizes['n']}; Max-of-K needs at least 2 positions")
    for symbol in ("V", "d", "h"):
        if sizes[symbol] == 0:
            raise ModelFileError(f"dimension {symbol} is 0")
    return {key: int(value) for key, value in sizes.items()}


def _shown(template: tuple[str | int, ...]) -> str:
    """A shape template as text, e.g. "[1, d, h]"."""
    return "[" + ", ".join(map(str, template)) + "]"


def _bias(read: dict[str, np.ndarray], name: str, size: int) -> np.ndarray:
    """The bias ``name`` with the head axis squeezed, or read-only float32 zeros of ``size`` if absent."""
    if name in read:
        values = read[name]
        return values[0] if TENSOR_NAMES[name][0] == HEAD_AXIS else values
    zeros = np.zeros(size, dtype=np.float32)
    zeros.flags.writeable = False
    return zeros
