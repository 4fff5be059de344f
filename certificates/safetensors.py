"""A minimal, strict reader of the safetensors format (no dependency on the package; the writer lives
with the prover, :mod:`prover.writers`).

Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces), then
the byte buffer. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
(offsets relative to the buffer) and may hold "__metadata__": {str: str}.

Reader guarantees: it returns only if the header is at most MAX_HEADER_BYTES of valid UTF-8 JSON
without duplicate keys, every entry has exactly the three fields with a supported dtype, a shape of
non-negative ints and offsets that tile the buffer exactly (sorted, contiguous, no gap, no overlap,
ending at the end of the file), and every BOOL byte is 0 or 1; otherwise it raises ModelFileError.
Arrays are read-only and in native byte order (BF16 as raw 16-bit patterns); nothing is allocated
beyond the file's own size.

"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from certificates.atomic import FileTooLargeError, read_bytes_bounded
from certificates.errors import ModelFileError, describe_os_error, short_repr

MAX_FILE_BYTES = 2**30
"""Largest model file read (the models this project certifies are a few hundred KiB)."""
MAX_HEADER_BYTES = 2**20
"""Largest JSON header accepted (the official limit is 100 MB; ours are a few KiB): a JSON parse builds
at most about one object per byte, so this bounds the header's memory at a few tens of MB."""
MAX_NDIM = 16
_MAX_ELEMENTS = MAX_FILE_BYTES
"""Most elements of one tensor, counting a zero dimension as 1: no tensor of a readable file can hold more,
and numpy can reshape to any shape within it (a zero-size shape such as [0, 2^70] is refused)."""
METADATA_KEY = "__metadata__"

WIRE_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "U8": "|u1",
    "BOOL": "|b1",
}
"""Safetensors dtype -> numpy dtype of the stored bytes (BF16 is read as raw 16-bit patterns)."""

_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}


@dataclass(frozen=True)
class SafetensorsFile:
    """A parsed file: arrays, the declared safetensors dtype of each ("F32", "BF16", ...), metadata."""

    tensors: dict[str, np.ndarray]
    dtypes: dict[str, str]
    metadata: dict[str, str]


def read_safetensors_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> SafetensorsFile:
    """The tensors, their declared dtypes and the metadata of the file at ``path`` (module docstring).

    Raises ModelFileError("cannot read model PATH: ...") if the file cannot be read, and
    ModelFileError("model PATH is ...") if it is larger than ``max_bytes`` (at most MAX_FILE_BYTES) or
    malformed.
    """
    shown = os.fspath(path)
    try:
        data = read_bytes_bounded(path, min(max_bytes, MAX_FILE_BYTES))
    except FileTooLargeError as error:
        raise ModelFileError(f"model {shown} is {error}") from None
    except OSError as error:
        raise ModelFileError(f"cannot read model {shown}: {describe_os_error(error)}") from None
    try:
        return decode_safetensors(data)
    except ModelFileError as error:
        raise ModelFileError(f"model {shown} is not a valid safetensors file: {error}") from None


def decode_safetensors(data: bytes) -> SafetensorsFile:
    """Parse safetensors bytes; raises ModelFileError with the reason (see the module docstring)."""
    if len(data) < 8:
        raise ModelFileError(f"file has {len(data)} bytes, fewer than the 8-byte header length")
    header_length = int.from_bytes(data[:8], "little")
    if header_length > MAX_HEADER_BYTES:
        raise ModelFileError(f"header length {header_length} exceeds the {MAX_HEADER_BYTES}-byte limit")
    if 8 + header_length > len(data):
        raise ModelFileError(f"header length {header_length} runs past the end of the {len(data)}-byte file")
    header = _parse_header(data[8 : 8 + header_length])
    metadata = _checked_metadata(header.pop(METADATA_KEY, {}))
    entries = {name: _parse_entry(name, info) for name, info in header.items()}
    buffer = memoryview(data)[8 + header_length :]
    _check_tiling(entries, len(buffer))
    tensors = {name: _tensor_from(name, entry, buffer) for name, entry in entries.items()}
    dtypes = {name: entry[0] for name, entry in entries.items()}
    return SafetensorsFile(tensors=tensors, dtypes=dtypes, metadata=metadata)


def _checked_metadata(metadata: object) -> dict[str, str]:
    """``metadata`` itself, checked to be a dict from str to str (ModelFileError otherwise)."""
    if not isinstance(metadata, dict):
        raise ModelFileError(f"metadata must be a map of strings, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if type(key) is not str or type(value) is not str:
            raise ModelFileError(f"metadata entry {short_repr(key)} is not a string -> string pair")
    return metadata


def parse_strict_json(
    text: str, *, parse_float: Callable[[str], object] = float, parse_int: Callable[[str], object] = int
) -> object:
    """``json.loads`` that raises ValueError for a repeated object key, for NaN/Infinity literals and
    for nesting too deep to parse (instead of RecursionError)."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_unique_pairs,
            parse_constant=_reject_constant,
            parse_float=parse_float,
            parse_int=parse_int,
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _parse_header(raw: bytes) -> dict[str, object]:
    """The header JSON object; duplicate keys, NaN/Infinity literals and non-objects are rejected."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError("header is not valid UTF-8") from None
    if not text.startswith("{"):
        raise ModelFileError("header does not start with '{'")
    try:
        header = parse_strict_json(text)
    except ValueError as error:
        raise ModelFileError(f"header is not valid JSON: {error}") from None
    if type(header) is not dict:
        raise ModelFileError("header is not a JSON object")
    return header


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """JSON object hook that rejects a repeated key instead of keeping the last value."""
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {short_repr(key)}")
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    """JSON constant hook: NaN, Infinity and -Infinity are not JSON."""
    raise ValueError(f"{name} is not allowed")


def _parse_entry(name: str, info: object) -> tuple[str, tuple[int, ...], int, int]:
    """(dtype code, shape, begin, end) of one header entry, each field type- and range-checked."""
    where = f"tensor {short_repr(name)}"
    if type(info) is not dict or set(info) != _ENTRY_KEYS:
        raise ModelFileError(f"{where}: entry must have exactly the keys {sorted(_ENTRY_KEYS)}")
    code = info["dtype"]
    if type(code) is not str or code not in WIRE_DTYPES:
        raise ModelFileError(
            f"{where}: unsupported dtype {short_repr(code)} (supported: {list(WIRE_DTYPES)})"
        )
    shape = info["shape"]
    if type(shape) is not list or len(shape) > MAX_NDIM or not all(_is_count(n) for n in shape):
        raise ModelFileError(f"{where}: shape must be a list of at most {MAX_NDIM} non-negative ints")
    offsets = info["data_offsets"]
    if type(offsets) is not list or len(offsets) != 2 or not all(_is_count(n) for n in offsets):
        raise ModelFileError(f"{where}: data_offsets must be two non-negative ints")
    begin, end = offsets
    if end - begin != math.prod(shape) * np.dtype(WIRE_DTYPES[code]).itemsize:
        raise ModelFileError(f"{where}: data_offsets {offsets} do not match dtype {code} and shape {shape}")
    if math.prod(max(n, 1) for n in shape) > _MAX_ELEMENTS:
        raise ModelFileError(f"{where}: shape {short_repr(shape)} has more than {_MAX_ELEMENTS} elements")
    return code, tuple(shape), begin, end


def _is_count(value: object) -> bool:
    """True for a non-negative Python int (bools excluded)."""
    return type(value) is int and value >= 0


def _check_tiling(entries: dict[str, tuple[str, tuple[int, ...], int, int]], buffer_length: int) -> None:
    """Raise unless the [begin, end) ranges, sorted, cover [0, buffer_length) without gap or overlap."""
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != position:
            raise ModelFileError(f"tensor {short_repr(name)}: data starts at {begin}, expected {position}")
        position = end
    if position != buffer_length:
        raise ModelFileError(f"tensors cover {position} bytes of a {buffer_length}-byte data buffer")


def _tensor_from(name: str, entry: tuple[str, tuple[int, ...], int, int], buffer: memoryview) -> np.ndarray:
    """The read-only native array of one (already validated) entry (BF16 as its raw 16-bit patterns: the
    checker reads only F32 tensors)."""
    code, shape, begin, end = entry
    stored = np.frombuffer(buffer[begin:end], dtype=np.dtype(WIRE_DTYPES[code])).reshape(shape)
    if code == "BOOL" and (stored.view(np.uint8) > 1).any():
        raise ModelFileError(f"tensor {short_repr(name)}: BOOL byte other than 0 or 1")
    values = stored.astype(stored.dtype.newbyteorder("="), copy=False)
    values.flags.writeable = False
    return values
