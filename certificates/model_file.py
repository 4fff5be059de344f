"""The model file: a safetensors file with TransformerLens names, read strictly (SPEC section 1).

``load_model`` returns only a model the checker supports: one layer, one head, attention only, no
LayerNorm, d_vocab_out = d_vocab, n_ctx >= 2, every read tensor float32 and finite, every shape
consistent, and a "config" metadata entry (if any) that agrees with all of this. Anything else raises
ModelFileError with a one-line reason. Buffers (the causal mask, IGNORE) and hook names are ignored.

The digest identifies the exact weights a certificate speaks about: SHA-256 over the read tensors
present in the file, sorted by name, each contributing
``name \\0 comma-separated shape \\0 little-endian float32 bytes``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from certificates.atomic import write_bytes_atomic
from certificates.errors import ModelFileError, short_repr
from certificates.safetensors import (
    MAX_FILE_BYTES,
    SafetensorsFile,
    decode_safetensors,
    encode_safetensors,
    parse_strict_json,
    read_safetensors_file,
)

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
_CONFIG_DIMENSIONS = {"d_vocab": "V", "n_ctx": "n", "d_model": "d", "d_head": "h"}
_CONFIG_REQUIRED_VALUES: dict[str, object] = {
    "n_layers": 1,
    "n_heads": 1,
    "attn_only": True,
    "normalization_type": None,
    "d_mlp": None,
    "positional_embedding_type": "standard",
}
MAX_NUMBER_CHARS = 64
"""Longest number literal in the config (a float64 needs at most 24 characters)."""
MAX_DECIMAL_EXPONENT = 400
"""Largest decimal exponent of a config number (a float64 needs at most 324)."""
MIN_ATTN_SCALE, MAX_ATTN_SCALE = Fraction(1, 2**64), Fraction(2**64)
"""Range of an explicit attention scale: wide enough for any real model (sqrt(d_head) is below 2^10),
narrow enough that the exact table rounding works on integers of a few hundred bits."""
_TL_DEFAULT_SCALE = -1
"""TransformerLens's "attn_scale" sentinel for the default sqrt(d_head)."""
_TL_DEFAULT_V_OUT = -1
"""TransformerLens's "d_vocab_out" sentinel for d_vocab."""


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


def save_model(path: str | os.PathLike[str], tensors: dict[str, np.ndarray], config: dict) -> None:
    """Write ``tensors`` (TransformerLens names and shapes, float32) with ``config`` as JSON under the
    metadata key "config", atomically.

    Raises ValueError, and writes nothing, if load_model would reject the file (the bytes are
    validated by the same code before writing). Note: a float in ``config`` is read back as the exact
    value of its shortest decimal, not of the binary float; in particular leave "attn_scale" out when
    it is the default sqrt(d_head), or the checker certifies the model with that decimal scale.
    """
    try:
        metadata = {CONFIG_KEY: json.dumps(config, allow_nan=False)}
    except (TypeError, ValueError) as error:
        raise ValueError(f"config is not JSON-serialisable: {error}") from None
    data = encode_safetensors(tensors, metadata)
    try:
        _weights_from(decode_safetensors(data))
    except ModelFileError as error:
        raise ValueError(f"refusing to save a model that load_model would reject: {error}") from None
    write_bytes_atomic(path, data)


def model_digest(tensors: dict[str, np.ndarray]) -> str:
    """Hex SHA-256 over the entries of ``tensors`` whose names are in TENSOR_NAMES (others, such as
    buffers, are ignored), sorted by name, each hashed as name, NUL, comma-separated shape, NUL,
    little-endian float32 bytes. Independent of dict order. Raises ValueError for a non-float32 tensor.
    """
    digest = hashlib.sha256()
    for name in sorted(name for name in tensors if name in TENSOR_NAMES):
        values = np.asarray(tensors[name])
        if values.dtype.kind != "f" or values.dtype.itemsize != 4:
            raise ValueError(f"tensor {name!r} has dtype {values.dtype}; the digest is over float32 values")
        digest.update(name.encode() + b"\0" + ",".join(map(str, values.shape)).encode() + b"\0")
        digest.update(np.ascontiguousarray(values, dtype="<f4").tobytes())
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
    config = _parse_config(parsed.metadata.get(CONFIG_KEY))
    _check_config(config, sizes)
    h = sizes["h"]
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
        attn_scale_squared=_attn_scale_squared(config, h),
        digest=model_digest(read),
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
        expected = [dim if dim == HEAD_AXIS else sizes[dim] for dim in TENSOR_NAMES[name]]
        if list(values.shape) != expected:
            template = _shown(TENSOR_NAMES[name])
            raise ModelFileError(
                f"tensor {name} has shape {list(values.shape)}, expected {expected} = {template}"
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


def _parse_config(text: str | None) -> dict:
    """The "config" metadata as a JSON object whose non-integer numbers are exact Fractions (never
    float), without repeated keys or NaN/Infinity."""
    if text is None:
        return {}
    try:
        config = parse_strict_json(text, parse_float=bounded_fraction, parse_int=bounded_int)
    except ValueError as error:
        raise ModelFileError(f"config metadata is not valid JSON: {error}") from None
    if type(config) is not dict:
        raise ModelFileError("config metadata is not a JSON object")
    return config


def bounded_int(text: str) -> int:
    """The JSON integer literal ``text`` (ValueError if longer than MAX_NUMBER_CHARS)."""
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number {short_repr(text)} has more than {MAX_NUMBER_CHARS} characters")
    return int(text)


def bounded_fraction(text: str) -> Fraction:
    """The exact value of the JSON number literal ``text`` with a fraction or exponent part.

    Raises ValueError, before any big-integer arithmetic, if ``text`` is longer than MAX_NUMBER_CHARS or
    its decimal exponent exceeds MAX_DECIMAL_EXPONENT in magnitude, so the result has at most about
    (MAX_NUMBER_CHARS + MAX_DECIMAL_EXPONENT) * log2(10) bits (``1e999999999`` would need 3.3e9).
    """
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number {short_repr(text)} has more than {MAX_NUMBER_CHARS} characters")
    _, marker, exponent = text.lower().partition("e")
    if marker and abs(int(exponent)) > MAX_DECIMAL_EXPONENT:
        raise ValueError(f"number {short_repr(text)} has a decimal exponent beyond +-{MAX_DECIMAL_EXPONENT}")
    return Fraction(text)


def _check_config(config: dict, sizes: dict[str, int]) -> None:
    """Reject a config entry that contradicts the tensors or the supported architecture."""
    for key, symbol in _CONFIG_DIMENSIONS.items():
        if key in config and not _same(config[key], sizes[symbol]):
            raise ModelFileError(
                f"config {key} = {short_repr(config[key])}, but the tensors have {sizes[symbol]}"
            )
    for key, required in _CONFIG_REQUIRED_VALUES.items():
        if key in config and not _same(config[key], required):
            raise ModelFileError(
                f"config {key} = {short_repr(config[key])}; only {json.dumps(required)} is supported"
            )
    V_out = config.get("d_vocab_out", _TL_DEFAULT_V_OUT)
    if not (_same(V_out, _TL_DEFAULT_V_OUT) or _same(V_out, sizes["V"])):
        raise ModelFileError(f"config d_vocab_out = {short_repr(V_out)} but V = {sizes['V']} (V_out != V)")
    if "use_attn_scale" in config and type(config["use_attn_scale"]) is not bool:
        raise ModelFileError(
            f"config use_attn_scale = {short_repr(config['use_attn_scale'])} is not a boolean"
        )


def _same(value: object, expected: object) -> bool:
    """Equal and of the same type (so True is not 1 and 4.0 is not 4)."""
    return type(value) is type(expected) and value == expected


def _attn_scale_squared(config: dict, d_head: int) -> Fraction:
    """s^2 exactly: 1 if use_attn_scale is false, attn_scale^2 if given (TransformerLens's -1 means the
    default), else d_head. A given scale must be a positive number."""
    if config.get("use_attn_scale") is False:
        return Fraction(1)
    scale = config.get("attn_scale", _TL_DEFAULT_SCALE)
    if type(scale) in (int, Fraction) and scale == _TL_DEFAULT_SCALE:
        return Fraction(d_head)
    if type(scale) not in (int, Fraction) or scale <= 0:
        raise ModelFileError(f"config attn_scale = {short_repr(scale)} is not a positive number")
    if not MIN_ATTN_SCALE <= scale <= MAX_ATTN_SCALE:
        raise ModelFileError(f"config attn_scale = {short_repr(float(scale))} is outside [2^-64, 2^64]")
    return Fraction(scale) ** 2
