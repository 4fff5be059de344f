"""Certificate format v2: typed classes and a strict msgpack codec (SPEC sections 3 and 9).

Version 2 differs from version 1 (SPEC section 3) in: the statement names the model class and its
digest binds the function (:func:`certificates.model_file.model_digest`: tensors, attention scale,
honoured config); the claim is ``{"kind": "count", "value": decimal string}``, an exact non-negative
integer of any size; the top-level ``cost_model`` records the version of the cost model the FLOPs are
counted in. A version-1 certificate is refused with one line naming its version.

Decoding guarantees: ``decode_certificate`` either returns a Certificate whose every field has the
documented type and range, or raises CertificateFormatError with a one-line message. It never
executes anything from the input (no pickle, no ext types), never allocates more than a small
multiple of the input size or of ``max_array_elements`` per array, never builds more than MAX_OBJECTS
msgpack objects, and never lets an exception from the msgpack layer escape as anything else. The
encoder lives with the prover (:mod:`prover.writers`) and emits only bytes this decoder accepts.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import msgpack
import numpy as np

from certificates.arrays import (
    count_digits_bound,
    decode_array,
    decode_count,
    exact_map,
    strict_int,
    strict_str,
    type_name,
)
from certificates.atomic import FileTooLargeError, read_bytes_bounded
from certificates.errors import CertificateFormatError, InputError, describe_os_error, short_repr
from certificates.msgpack_budget import check_object_budget

FORMAT = "compact-proofs-certificate"
VERSION = 2
MAX_CERTIFICATE_BYTES = 256 * 2**20
MAX_D_VOCAB = 2**20
MAX_N_CTX = 2**16
MAX_INFO_DEPTH = 16
MAX_CONTAINER_LEN = 2**20
"""Most elements in one msgpack list or map (and most bytes in one str): bounds what msgpack
preallocates for a declared length before it has seen the elements."""
MAX_OBJECTS = 2**16
"""Most msgpack objects in one certificate (counted before decoding by
:func:`certificates.msgpack_budget.check_object_budget`): a certificate's bulk is in a few bin payloads,
so real ones hold a few hundred objects; the budget caps what decoding builds (e.g. from an ``info``
of millions of empty lists) at a few MB."""

TASK = "max"
MODEL_CLASS = "attention-only-1-layer-1-head"
"""The model class of SPEC section 1 (the only one this checker reads)."""
CLAIM_KIND = "count"
SHARD_SCHEME = "query-prefix"
"""The one shard scheme (:mod:`checker.shards`): a shard fixes the query token and the first ``depth`` tokens."""
_TOP_KEYS = ("format", "version", "statement", "strategy", "claim", "cost_model", "trace", "info")
_STATEMENT_KEYS = ("task", "model_class", "d_vocab", "n_ctx", "model_digest")
_CLAIM_KEYS = ("kind", "value")
_SHARD_CLAIM_KEYS = ("kind", "value", "shard")
_SHARD_KEYS = ("scheme", "depth", "index")
_MSGPACK_INT_MIN = -(2**63)
_MSGPACK_INT_MAX = 2**64 - 1
_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Statement:
    """The problem a certificate claims to be about (SPEC section 0): the task, the input space
    {0..d_vocab-1}^n_ctx and the model by digest. Untrusted: the checker derives its own from the
    model file and compares."""

    task: str
    d_vocab: int
    n_ctx: int
    model_digest: str
    model_class: str = MODEL_CLASS


@dataclass(frozen=True)
class Shard:
    """The part of the input space a brute-force shard certificate is about (SPEC section 8): shard
    ``index`` of the scheme :data:`SHARD_SCHEME` at ``depth`` (its meaning is :mod:`checker.shards`).
    Untrusted: the checker checks both against the model's V and n."""

    depth: int
    index: int
    scheme: str = SHARD_SCHEME


@dataclass(frozen=True)
class TraceStep:
    """One replay step: its name and the claimed arrays (untrusted until the checker verifies them)."""

    step: str
    arrays: dict[str, np.ndarray]


@dataclass(frozen=True)
class Certificate:
    """A decoded certificate. Arrays are read-only; ``info`` is provenance the verdict never reads;
    ``cost_model`` is the version of the cost model its FLOPs are counted in (the checker's is
    :data:`checker.kernel.flops.COST_MODEL_VERSION`)."""

    statement: Statement
    strategy_name: str
    strategy_params: dict[str, str | int | bool]
    claim_correct: int
    trace: tuple[TraceStep, ...]
    info: dict[str, object]
    cost_model: int
    shard: Shard | None = None
    """None for a claim about the whole input space; else the claim counts the sequences of this shard."""


def decode_certificate(
    data: bytes, *, max_array_elements: int, max_bytes: int = MAX_CERTIFICATE_BYTES
) -> Certificate:
    """The certificate in ``data``, strictly validated; every trace array has <= max_array_elements
    elements and the input has <= max_bytes bytes. Raises CertificateFormatError otherwise."""
    if len(data) > max_bytes:
        raise CertificateFormatError(f"certificate is {len(data)} bytes, over the {max_bytes}-byte limit")
    return _from_wire(_unpack(data), max_array_elements=max_array_elements)


def read_certificate_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_CERTIFICATE_BYTES) -> bytes:
    """The bytes of the certificate file at ``path``, never reading more than ``max_bytes + 1``.

    A missing, unreadable or non-regular file raises InputError("cannot read certificate PATH: ...",
    e.g. "no such file"); a file larger than ``max_bytes`` (checked with os.stat before reading) raises
    CertificateFormatError.
    """
    shown = os.fspath(path)
    try:
        return read_bytes_bounded(path, max_bytes)
    except FileTooLargeError as error:
        raise CertificateFormatError(f"certificate {shown} is {error}") from None
    except OSError as error:
        raise InputError(f"cannot read certificate {shown}: {describe_os_error(error)}") from None


def read_certificate(
    path: str | os.PathLike[str], *, max_array_elements: int, max_bytes: int = MAX_CERTIFICATE_BYTES
) -> Certificate:
    """Read (:func:`read_certificate_bytes`) and decode the certificate at ``path``."""
    data = read_certificate_bytes(path, max_bytes)
    return decode_certificate(data, max_array_elements=max_array_elements, max_bytes=max_bytes)


def _unpack(data: bytes) -> object:
    """msgpack-decode ``data`` with every length limit derived from ``len(data)``; maps keep key order."""
    check_object_budget(data, MAX_OBJECTS)
    container_limit = min(len(data), MAX_CONTAINER_LEN)
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_reject_ext,
            object_pairs_hook=_unique_key_map,
            max_str_len=container_limit,
            max_bin_len=len(data),
            max_array_len=container_limit,
            max_map_len=container_limit,
            max_ext_len=len(data),
        )
    except CertificateFormatError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException) as error:
        reason = f"{type(error).__name__}: {error}"
        raise CertificateFormatError(f"certificate is not valid msgpack: {reason}") from None


def _reject_ext(code: int, data: bytes) -> object:
    """ext_hook: certificates contain no msgpack extension types."""
    raise CertificateFormatError(f"certificate contains msgpack extension type {code}; v1 allows none")


def _unique_key_map(pairs: list[tuple[object, object]]) -> dict[object, object]:
    """object_pairs_hook: a map with a repeated key is rejected instead of keeping the last value."""
    result: dict[object, object] = {}
    for key, value in pairs:
        if key in result:
            raise CertificateFormatError(f"certificate repeats the map key {short_repr(key)}")
        result[key] = value
    return result


def _from_wire(obj: object, *, max_array_elements: int) -> Certificate:
    """The Certificate described by the plain object ``obj``, every field checked (SPEC section 3)."""
    if type(obj) is dict and obj.get("format") == FORMAT and "version" in obj:
        _check_version(obj["version"])  # before the key set, which changed in version 2
    top = exact_map(obj, _TOP_KEYS, "certificate")
    if type(top["format"]) is not str or top["format"] != FORMAT:
        shown = short_repr(top["format"])
        raise CertificateFormatError(f"certificate format is {shown}, expected {FORMAT!r}")
    _check_version(top["version"])
    strategy = exact_map(top["strategy"], ("name", "params"), "strategy")
    sharded = type(top["claim"]) is dict and "shard" in top["claim"]
    claim = exact_map(top["claim"], _SHARD_CLAIM_KEYS if sharded else _CLAIM_KEYS, "claim")
    if type(claim["kind"]) is not str or claim["kind"] != CLAIM_KIND:
        raise CertificateFormatError(f"claim kind is {short_repr(claim['kind'])}; this checker reads {CLAIM_KIND!r}")
    statement = _statement_from(top["statement"])
    return Certificate(
        statement=statement,
        strategy_name=strict_str(strategy["name"], "strategy name"),
        strategy_params=_params_from(strategy["params"]),
        claim_correct=decode_count(
            claim["value"], "claim value", count_digits_bound(statement.d_vocab, statement.n_ctx)
        ),
        trace=_trace_from(top["trace"], max_array_elements),
        info=_info_from(top["info"]),
        cost_model=strict_int(top["cost_model"], "cost_model", minimum=1, maximum=_MSGPACK_INT_MAX),
        shard=_shard_from(claim["shard"], statement) if sharded else None,
    )


def _shard_from(obj: object, statement: Statement) -> Shard:
    """The claim's shard: the scheme :data:`SHARD_SCHEME`, a depth below MAX_N_CTX and a decimal index of
    at most the digits of V^(n-1), the most shards of any depth (its exact range depends on the depth, so
    :mod:`checker.shards` checks it)."""
    fields = exact_map(obj, _SHARD_KEYS, "claim shard")
    if type(fields["scheme"]) is not str or fields["scheme"] != SHARD_SCHEME:
        raise CertificateFormatError(
            f"claim shard scheme is {short_repr(fields['scheme'])}; this checker reads {SHARD_SCHEME!r}"
        )
    return Shard(
        depth=strict_int(fields["depth"], "claim shard depth", minimum=0, maximum=MAX_N_CTX),
        index=decode_count(
            fields["index"], "claim shard index", count_digits_bound(statement.d_vocab, statement.n_ctx - 1)
        ),
    )


def _check_version(version: object) -> None:
    """Version 2 only; a version-1 certificate gets one line saying so (its digest binds less)."""
    if type(version) is int and version == 1:
        raise CertificateFormatError(
            f"certificate format version 1 is no longer read: this checker reads version {VERSION} only "
            "(its digest binds the attention scale and config); prove it again"
        )
    if type(version) is not int or version != VERSION:
        raise CertificateFormatError(
            f"unsupported certificate version {short_repr(version)}; this checker reads {VERSION}"
        )


def _statement_from(obj: object) -> Statement:
    """The statement, checked: task "max", sane positive sizes, a lower-case hex SHA-256 digest."""
    fields = exact_map(obj, _STATEMENT_KEYS, "statement")
    if type(fields["task"]) is not str or fields["task"] != TASK:
        raise CertificateFormatError(f"statement task is {short_repr(fields['task'])}, expected {TASK!r}")
    digest = fields["model_digest"]
    if type(digest) is not str or not _DIGEST_PATTERN.fullmatch(digest):
        raise CertificateFormatError(
            f"statement model_digest {short_repr(digest)} is not 64 lower-case hex digits"
        )
    if type(fields["model_class"]) is not str or fields["model_class"] != MODEL_CLASS:
        raise CertificateFormatError(
            f"statement model_class is {short_repr(fields['model_class'])}, expected {MODEL_CLASS!r}"
        )
    return Statement(
        task=TASK,
        d_vocab=strict_int(fields["d_vocab"], "statement d_vocab", minimum=1, maximum=MAX_D_VOCAB),
        n_ctx=strict_int(fields["n_ctx"], "statement n_ctx", minimum=1, maximum=MAX_N_CTX),
        model_digest=digest,
    )


def _params_from(obj: object) -> dict[str, str | int | bool]:
    """Strategy knobs: a map from non-empty str to str, int (msgpack range) or bool."""
    if type(obj) is not dict:
        raise CertificateFormatError(f"strategy params: expected a map, got {type_name(obj)}")
    params: dict[str, str | int | bool] = {}
    for key, value in obj.items():
        name = strict_str(key, "strategy params key")
        where = f"strategy param {short_repr(name)}"
        if type(value) is int:
            strict_int(value, where, minimum=_MSGPACK_INT_MIN, maximum=_MSGPACK_INT_MAX)
        elif type(value) not in (str, bool):
            raise CertificateFormatError(f"{where}: expected str, int or bool, got {type_name(value)}")
        params[name] = value
    return params


def _trace_from(obj: object, max_array_elements: int) -> tuple[TraceStep, ...]:
    """The trace: a list of {step: str, arrays: {str: array}}, each array checked by decode_array."""
    if type(obj) is not list:
        raise CertificateFormatError(f"trace: expected a list, got {type_name(obj)}")
    steps = []
    for index, item in enumerate(obj):
        fields = exact_map(item, ("step", "arrays"), f"trace step {index}")
        name = strict_str(fields["step"], f"trace step {index} name")
        arrays_obj = fields["arrays"]
        if type(arrays_obj) is not dict:
            raise CertificateFormatError(
                f"trace step {short_repr(name)} arrays: expected a map, got {type_name(arrays_obj)}"
            )
        arrays = {}
        for key, value in arrays_obj.items():
            array_name = strict_str(key, f"trace step {short_repr(name)} array name")
            where = f"trace step {short_repr(name)} array {short_repr(array_name)}"
            arrays[array_name] = decode_array(value, where=where, max_elements=max_array_elements)
        steps.append(TraceStep(step=name, arrays=arrays))
    return tuple(steps)


def _info_from(obj: object) -> dict[str, object]:
    """Provenance: a map with str keys and JSON-like values nested at most MAX_INFO_DEPTH deep."""
    if type(obj) is not dict:
        raise CertificateFormatError(f"info: expected a map, got {type_name(obj)}")
    _check_json_like(obj, "info", depth=1)
    return obj


def _check_json_like(value: object, where: str, depth: int) -> None:
    """Raise unless ``value`` is nil, bool, int (msgpack range), finite float, str, or a list or str-keyed
    map of such values; ``depth`` counts the enclosing containers, which may be at most MAX_INFO_DEPTH
    (the info map itself is depth 1)."""
    kind = type(value)
    if isinstance(value, (list, dict)) and depth > MAX_INFO_DEPTH:
        raise CertificateFormatError(f"{where}: nested deeper than {MAX_INFO_DEPTH} levels")
    if kind is int:
        strict_int(value, where, minimum=_MSGPACK_INT_MIN, maximum=_MSGPACK_INT_MAX)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CertificateFormatError(f"{where}: {value} is not finite")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_like(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                raise CertificateFormatError(f"{where}: map key must be a str, got {type_name(key)}")
            _check_json_like(item, f"{where}[{short_repr(key)}]", depth + 1)
    elif value is not None and kind not in (bool, str):
        raise CertificateFormatError(f"{where}: {type_name(value)} is not allowed (JSON-like values only)")
