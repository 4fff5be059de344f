"""Writing certificates and model files: the prover's side of the formats the checker reads.

No verdict needs these, so they live here and not in the trusted :mod:`certificates` package. Each
writer validates what it writes with the checker's own reader and refuses (ValueError, nothing written)
what that reader would reject, so every file written here reads back; every file is written atomically
(:func:`write_bytes_atomic`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys

import msgpack
import numpy as np

from certificates.codec import (
    CLAIM_KIND,
    FORMAT,
    MAX_CERTIFICATE_BYTES,
    TASK,
    VERSION,
    Certificate,
    Statement,
    decode_certificate,
)
from certificates.errors import CertificateFormatError, ModelFileError, short_repr
from certificates.model_file import CONFIG_KEY, ModelWeights, load_model_bytes
from certificates.safetensors import METADATA_KEY, WIRE_DTYPES

_TEMP_SUFFIX = ".tmp"
_DIGIT_CHUNK = 4000
"""Digits converted at once, below Python's 4,300-digit int/str conversion limit."""
_CODE_OF_WIRE = {wire: code for code, wire in WIRE_DTYPES.items() if code != "BF16"}
_ALIGNMENT_RANK = {"BOOL": 0, "U8": 1, "F16": 7, "I32": 9, "F32": 11, "F64": 12, "I64": 13}
"""The official safetensors writer's dtype order; tensors are laid out by descending rank, then by name."""


# ----------------------------------------------------------------------------- files
def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, fsync, then os.replace.

    After it returns or raises, ``path`` holds either its previous content (or does not exist) or exactly
    ``data``: never a prefix. The temporary file is created with O_EXCL (it never clobbers anything) and
    mode 0o666 filtered by the umask, like a file opened with ``open(path, "wb")``; any exception
    (including KeyboardInterrupt) removes it before propagating.
    """
    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}{_TEMP_SUFFIX}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):  # the original error matters more
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable where the OS supports fsync on a directory (POSIX).

    The new content is already in place when this runs, so a platform or file system that refuses
    (no O_DIRECTORY, EINVAL, EACCES) only loses durability against power failure, not atomicity.
    """
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ----------------------------------------------------------------------------- certificates
def statement_for(weights: ModelWeights) -> Statement:
    """The statement the checker derives from ``weights``: what a certificate about them must state."""
    return Statement(task=TASK, d_vocab=weights.d_vocab, n_ctx=weights.n_ctx, model_digest=weights.digest)


def encode_count(value: int) -> str:
    """The canonical decimal string of the non-negative int ``value``, of any size; never limited by
    Python's int-to-str limit (ValueError for anything else)."""
    if type(value) is not int or value < 0:
        raise ValueError(f"a count must be a non-negative int, got {short_repr(value)}")
    chunks = []
    base = 10**_DIGIT_CHUNK
    while value >= base:
        value, low = divmod(value, base)
        chunks.append(str(low).zfill(_DIGIT_CHUNK))
    return str(value) + "".join(reversed(chunks))


def encode_array(array: np.ndarray) -> dict[str, object]:
    """The wire object for ``array``: its values in the little-endian form of its dtype, C order (the
    decoder decides whether the dtype, shape and values are allowed)."""
    values = np.asarray(array)
    wire = values.dtype.newbyteorder("<").str
    data = np.ascontiguousarray(values, wire).tobytes()
    return {"dtype": wire, "shape": [int(n) for n in values.shape], "data": data}


def encode_certificate(cert: Certificate) -> bytes:
    """The msgpack bytes of ``cert``; ValueError if the checker's decoder would not read them back."""
    statement = cert.statement
    wire = {
        "format": FORMAT,
        "version": VERSION,
        "statement": {
            "task": statement.task, "model_class": statement.model_class, "d_vocab": statement.d_vocab,
            "n_ctx": statement.n_ctx, "model_digest": statement.model_digest,
        },
        "strategy": {"name": cert.strategy_name, "params": cert.strategy_params},
        "claim": _claim(cert),
        "cost_model": cert.cost_model,
        "trace": [{"step": step.step, "arrays": {k: encode_array(v) for k, v in step.arrays.items()}}
                  for step in cert.trace],
        "info": cert.info,
    }
    try:
        data = msgpack.packb(wire, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"refusing to encode an invalid certificate: {error}") from None
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise ValueError(f"certificate would be {len(data)} bytes; the limit is {MAX_CERTIFICATE_BYTES}")
    try:
        decode_certificate(data, max_array_elements=sys.maxsize)
    except CertificateFormatError as error:
        raise ValueError(f"refusing to encode an invalid certificate: {error}") from None
    return data


def _claim(cert: Certificate) -> dict[str, object]:
    """The wire claim: the count, and the shard it is about for a shard certificate."""
    claim: dict[str, object] = {"kind": CLAIM_KIND, "value": encode_count(cert.claim_correct)}
    if cert.shard is not None:
        shard = cert.shard
        claim["shard"] = {"scheme": shard.scheme, "depth": shard.depth, "index": encode_count(shard.index)}
    return claim


def write_certificate(path: str | os.PathLike[str], cert: Certificate) -> None:
    """Encode ``cert`` and write it atomically: ``path`` never holds a partial certificate."""
    write_bytes_atomic(path, encode_certificate(cert))


# ----------------------------------------------------------------------------- model files
def encode_safetensors(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors bytes of ``tensors`` and ``metadata`` in the official layout (compact JSON, tensors
    by descending dtype alignment then name, header padded with spaces to a multiple of 8); ``metadata``
    is omitted when empty. ValueError for a dtype without a safetensors code here (F64, F32, F16, I64,
    I32, U8, BOOL), an empty or reserved tensor name, or metadata that is not str -> str."""
    if type(metadata) is not dict or any(type(k) is not str or type(v) is not str for k, v in metadata.items()):
        raise ValueError("metadata must be a map of strings")
    encoded = {name: _encode_tensor(name, tensor) for name, tensor in tensors.items()}
    order = sorted(encoded, key=lambda name: (-_ALIGNMENT_RANK[encoded[name][0]], name))
    header: dict[str, object] = {METADATA_KEY: dict(sorted(metadata.items()))} if metadata else {}
    offset = 0
    for name in order:
        code, shape, data = encoded[name]
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    chunks = [len(header_bytes).to_bytes(8, "little"), header_bytes]
    chunks.extend(encoded[name][2] for name in order)
    return b"".join(chunks)


def _encode_tensor(name: object, tensor: np.ndarray) -> tuple[str, list[int], bytes]:
    """(dtype code, shape, little-endian C-order bytes) of one tensor to be written."""
    if type(name) is not str or not name or name == METADATA_KEY:
        raise ValueError(f"invalid tensor name {short_repr(name)}")
    values = np.asarray(tensor)
    wire = values.dtype.newbyteorder("<").str
    if wire not in _CODE_OF_WIRE:
        raise ValueError(f"tensor {name!r} has dtype {values.dtype}, which cannot be written")
    data = np.ascontiguousarray(values, dtype=np.dtype(wire)).tobytes()
    return _CODE_OF_WIRE[wire], [int(n) for n in values.shape], data


def write_safetensors(path: str | os.PathLike[str], tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` atomically in the official safetensors layout."""
    write_bytes_atomic(path, encode_safetensors(tensors, metadata))


def save_model(path: str | os.PathLike[str], tensors: dict[str, np.ndarray], config: dict) -> None:
    """Write ``tensors`` (TransformerLens names and shapes, float32) with ``config`` as JSON under the
    metadata key "config", atomically.

    Raises ValueError, and writes nothing, if the checker's model reader would reject the file (the bytes
    are validated by that reader before writing). Note: a float in ``config`` is read back as the exact
    value of its shortest decimal, not of the binary float; in particular leave "attn_scale" out when
    it is the default sqrt(d_head), or the checker certifies the model with that decimal scale.
    """
    try:
        metadata = {CONFIG_KEY: json.dumps(config, allow_nan=False)}
    except (TypeError, ValueError) as error:
        raise ValueError(f"config is not JSON-serialisable: {error}") from None
    data = encode_safetensors(tensors, metadata)
    try:
        load_model_bytes(data)
    except ModelFileError as error:
        raise ValueError(f"refusing to save a model that the checker would reject: {error}") from None
    write_bytes_atomic(path, data)
