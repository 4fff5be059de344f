"""Certificate codec: round trips, every decoding rule violated, hostile bytes, atomic writes."""

from __future__ import annotations

import math
import os
import re
import tracemalloc
from collections.abc import Callable

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates import atomic
from certificates.arrays import ALLOWED_DTYPES, MAX_NDIM, decode_array
from certificates.codec import (
    FORMAT,
    MAX_INFO_DEPTH,
    Certificate,
    Statement,
    TraceStep,
    decode_certificate,
    read_certificate,
)
from certificates.errors import CertificateFormatError, InputError
from checker.kernel.flops import COST_MODEL_VERSION
from prover import writers
from prover.writers import encode_array, encode_certificate, write_certificate

LIMIT = 1000
DIGEST = "0123456789abcdef" * 4


def make_certificate(**overrides: object) -> Certificate:
    """A small valid certificate using every allowed dtype; ``overrides`` replace fields."""
    arrays = {
        "bound": np.array([[1.5, -2.0], [0.0, 3.25]], dtype="<f8"),
        "gap": np.array([0.5, 1.0, 2.0], dtype="<f4"),
        "order": np.array([3, 1, 2], dtype="<i8"),
        "index": np.array([[7]], dtype="<i4"),
        "token": np.array([0, 255], dtype="|u1"),
        "claimed": np.array([True, False, True]),
    }
    fields: dict[str, object] = {
        "statement": Statement(task="max", d_vocab=64, n_ctx=4, model_digest=DIGEST),
        "strategy_name": "cubic",
        "strategy_params": {"svd": True, "rank": 2, "mode": "exact"},
        "claim_correct": 12345,
        "trace": (TraceStep(step="cases", arrays=arrays), TraceStep(step="empty", arrays={})),
        "info": {
            "prover": "0.1.0",
            "seconds": 1.25,
            "device": None,
            "argv": ["prove", "-q"],
            "env": {"x": 1},
        },
        "cost_model": COST_MODEL_VERSION,
    }
    fields.update(overrides)
    return Certificate(**fields)


def assert_same_certificate(left: Certificate, right: Certificate) -> None:
    """Field-by-field equality; arrays compared by dtype, shape and values."""
    assert left.statement == right.statement
    assert (left.strategy_name, left.strategy_params) == (right.strategy_name, right.strategy_params)
    assert left.claim_correct == right.claim_correct
    assert left.info == right.info
    assert [step.step for step in left.trace] == [step.step for step in right.trace]
    for step_left, step_right in zip(left.trace, right.trace, strict=True):
        assert list(step_left.arrays) == list(step_right.arrays)
        for name, array in step_left.arrays.items():
            other = step_right.arrays[name]
            assert array.dtype == other.dtype and array.shape == other.shape
            assert np.array_equal(array, other)


def good_wire() -> dict:
    """The plain msgpack object of a valid certificate, to be corrupted by a test."""
    return msgpack.unpackb(encode_certificate(make_certificate()), raw=False)


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def decode(data: bytes, max_array_elements: int = LIMIT) -> Certificate:
    return decode_certificate(data, max_array_elements=max_array_elements)


def assert_rejected(data: bytes, match: str | None = None, max_array_elements: int = LIMIT) -> None:
    """Decoding ``data`` raises CertificateFormatError with a one-line message (matching ``match``)."""
    with pytest.raises(CertificateFormatError, match=match) as caught:
        decode(data, max_array_elements)
    message = str(caught.value)
    assert message and "\n" not in message and "\r" not in message


def mutated(change: Callable[[dict], None]) -> bytes:
    wire = good_wire()
    change(wire)
    return pack(wire)


def array_of(wire: dict) -> dict:
    """The wire object of the first array of the first trace step."""
    return wire["trace"][0]["arrays"]["bound"]


# Round trips


def test_round_trip_preserves_every_field() -> None:
    cert = make_certificate()
    assert_same_certificate(decode(encode_certificate(cert)), cert)


def test_decoded_arrays_are_read_only_native_and_typed() -> None:
    decoded = decode(encode_certificate(make_certificate()))
    arrays = decoded.trace[0].arrays
    assert {array.dtype.newbyteorder("<").str for array in arrays.values()} == set(ALLOWED_DTYPES)
    for array in arrays.values():
        assert not array.flags.writeable
        assert array.dtype.isnative
    with pytest.raises(ValueError):
        arrays["bound"][0, 0] = 1.0


def test_encoding_is_deterministic() -> None:
    assert encode_certificate(make_certificate()) == encode_certificate(make_certificate())


def test_big_endian_and_strided_input_round_trip_by_value() -> None:
    values = np.arange(12, dtype=">f8").reshape(3, 4)[:, ::2]
    wire = encode_array(values)
    assert wire["dtype"] == "<f8"
    decoded = decode_array(wire, where="x", max_elements=100)
    assert np.array_equal(decoded, values) and decoded.dtype.isnative


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (1, 1, 1, 1, 1, 1, 1, 1)])
def test_scalar_empty_and_max_ndim_arrays_round_trip(shape: tuple[int, ...]) -> None:
    values = np.ones(shape, dtype="<i4")
    decoded = decode_array(encode_array(values), where="x", max_elements=10)
    assert decoded.shape == shape and np.array_equal(decoded, values)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(ALLOWED_DTYPES), st.lists(st.integers(0, 3), max_size=3), st.integers(0, 2**32 - 1))
def test_random_arrays_round_trip(dtype: str, shape: list[int], seed: int) -> None:
    generator = np.random.default_rng(seed)
    values = (generator.integers(0, 200, shape) + generator.random(shape)).astype(dtype)
    decoded = decode_array(encode_array(values), where="x", max_elements=100)
    assert decoded.dtype == np.dtype(dtype).newbyteorder("=") and np.array_equal(decoded, values)


def test_file_round_trip(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "proof.cert")
    write_certificate(path, make_certificate())
    assert_same_certificate(read_certificate(path, max_array_elements=LIMIT), make_certificate())
    assert os.listdir(tmp_path) == ["proof.cert"]


# Encoder refuses what the decoder would reject


@pytest.mark.parametrize(
    "array",
    [
        np.array([1.0, np.nan]),
        np.array([np.inf], dtype=np.float32),
        np.array([-np.inf]),
        np.array([1.0], dtype=np.float16),
        np.array([1], dtype=np.int16),
        np.array([1], dtype=np.uint64),
        np.array([1j]),
        np.array(["a"]),
        np.array([object()], dtype=object),
        np.zeros((1,) * (MAX_NDIM + 1)),
    ],
)
def test_encoder_refuses_a_certificate_holding_an_array_the_decoder_rejects(array: np.ndarray) -> None:
    with pytest.raises(ValueError):
        encode_certificate(make_certificate(trace=(TraceStep(step="s", arrays={"a": array}),)))


def test_encoder_refuses_boolean_bytes_other_than_0_or_1() -> None:
    array = np.array([0, 2], dtype=np.uint8).view(np.bool_)
    with pytest.raises(ValueError, match="boolean"):
        encode_certificate(make_certificate(trace=(TraceStep(step="s", arrays={"a": array}),)))


@pytest.mark.parametrize(
    "overrides",
    [
        {"statement": Statement(task="min", d_vocab=64, n_ctx=4, model_digest=DIGEST)},
        {"statement": Statement(task="max", d_vocab=64, n_ctx=4, model_digest=DIGEST.upper())},
        {"statement": Statement(task="max", d_vocab=0, n_ctx=4, model_digest=DIGEST)},
        {"strategy_name": ""},
        {"strategy_params": {"x": 1.5}},
        {"claim_correct": -1},
        {"claim_correct": True},
        {"info": {"t": float("nan")}},
        {"info": {1: "x"}},
        {"trace": (TraceStep(step="s", arrays={"a": np.array([np.nan])}),)},
    ],
)
def test_encode_certificate_rejects_invalid_fields(overrides: dict) -> None:
    with pytest.raises(ValueError):
        encode_certificate(make_certificate(**overrides))


def test_numpy_floats_in_info_are_written_as_floats() -> None:
    """The encoder packs first and validates the bytes: a numpy float64 becomes a plain float."""
    data = encode_certificate(make_certificate(info={"t": np.float64(1.5)}))
    assert decode_certificate(data, max_array_elements=LIMIT).info == {"t": 1.5}


# Structure: exact key sets


@pytest.mark.parametrize(
    "locate",
    [
        lambda wire: wire,
        lambda wire: wire["statement"],
        lambda wire: wire["strategy"],
        lambda wire: wire["claim"],
        lambda wire: wire["trace"][0],
        array_of,
    ],
    ids=["top", "statement", "strategy", "claim", "step", "array"],
)
def test_unknown_and_missing_keys_are_rejected(locate: Callable[[dict], dict]) -> None:
    assert_rejected(mutated(lambda wire: locate(wire).update(extra=1)), "unknown key 'extra'")
    for key in list(locate(good_wire())):
        assert_rejected(mutated(lambda wire, key=key: locate(wire).pop(key)), f"missing key '{key}'")


def test_non_str_map_keys_are_rejected() -> None:
    assert_rejected(pack({1: 2}), "not valid msgpack")
    assert_rejected(mutated(lambda wire: wire.update({b"format": FORMAT})), "unknown key b'format'")
    assert_rejected(mutated(lambda wire: wire["info"].update({b"k": 1})), "map key must be a str")
    assert_rejected(mutated(lambda wire: wire["strategy"]["params"].update({b"k": 1})), "expected a str")
    assert_rejected(mutated(lambda wire: wire["trace"][0]["arrays"].update({b"k": 1})), "expected a str")


def test_repeated_map_key_is_rejected() -> None:
    # fixmap with two entries whose key is "a"; msgpack-python would silently keep the last one.
    body = pack("a") + pack(1) + pack("a") + pack(2)
    assert_rejected(b"\x82" + body, "repeats the map key 'a'")


@pytest.mark.parametrize("top", [[], "x", 1, None, b"x"])
def test_top_level_must_be_a_map(top: object) -> None:
    assert_rejected(pack(top), "expected a map")


# Scalars


BAD_SCALARS: list[tuple[Callable[[dict], None], str]] = [
    (lambda w: w.update(format="other"), "format"),
    (lambda w: w.update(format=FORMAT.encode()), "format"),
    (lambda w: w.update(version=3), "version 3"),
    (lambda w: w.update(version=1), "version 1 is no longer read"),
    (lambda w: w.update(cost_model=0), "cost_model"),
    (lambda w: w.update(cost_model="1"), "cost_model"),
    (lambda w: w["statement"].update(model_class="mlp"), "model_class"),
    (lambda w: w["claim"].update(kind="loss_upper"), "claim kind"),
    (lambda w: w.update(version=True), "version True"),
    (lambda w: w.update(version=1.0), "version 1.0"),
    (lambda w: w["statement"].update(task="min"), "task"),
    (lambda w: w["statement"].update(d_vocab=0), "d_vocab"),
    (lambda w: w["statement"].update(d_vocab=-3), "d_vocab"),
    (lambda w: w["statement"].update(d_vocab=True), "d_vocab: expected an int, got bool"),
    (lambda w: w["statement"].update(d_vocab=64.0), "d_vocab: expected an int, got float"),
    (lambda w: w["statement"].update(d_vocab=2**40), "d_vocab"),
    (lambda w: w["statement"].update(n_ctx=0), "n_ctx"),
    (lambda w: w["statement"].update(n_ctx=2**20), "n_ctx"),
    (lambda w: w["statement"].update(n_ctx="4"), "n_ctx"),
    (lambda w: w["statement"].update(model_digest=DIGEST.upper()), "model_digest"),
    (lambda w: w["statement"].update(model_digest=DIGEST[:-1]), "model_digest"),
    (lambda w: w["statement"].update(model_digest=DIGEST + "\n"), "model_digest"),
    (lambda w: w["statement"].update(model_digest=bytes.fromhex(DIGEST)), "model_digest"),
    (lambda w: w["strategy"].update(name=""), "strategy name"),
    (lambda w: w["strategy"].update(name=3), "strategy name"),
    (lambda w: w["strategy"].update(params=[]), "strategy params"),
    (lambda w: w["strategy"]["params"].update(x=1.5), "strategy param 'x'"),
    (lambda w: w["strategy"]["params"].update(x=None), "strategy param 'x'"),
    (lambda w: w["strategy"]["params"].update(x=[1]), "strategy param 'x'"),
    (lambda w: w["strategy"]["params"].update({"": 1}), "strategy params key"),
    (lambda w: w["claim"].update(value="-1"), "claim value"),
    (lambda w: w["claim"].update(value=1), "claim value: expected a decimal string, got int"),
    (lambda w: w["claim"].update(value=True), "claim value: expected a decimal string, got bool"),
    (lambda w: w["claim"].update(value="3.0"), "claim value"),
    (lambda w: w["claim"].update(value="012"), "leading zero"),
    (lambda w: w["claim"].update(value=""), "claim value"),
    (lambda w: w["claim"].update(value="\u0663"), "claim value"),
    (lambda w: w["claim"].update(value="1" * (2**20 + 1)), "max_str_len"),
    (lambda w: w.update(trace={}), "trace: expected a list"),
    (lambda w: w["trace"].append([]), "trace step 2: expected a map"),
    (lambda w: w["trace"][0].update(step=""), "trace step 0 name"),
    (lambda w: w["trace"][0].update(step=7), "trace step 0 name"),
    (lambda w: w["trace"][0].update(arrays=[]), "trace step 'cases' arrays"),
    (lambda w: w["trace"][0]["arrays"].update({"": array_of(w)}), "array name"),
    (lambda w: w.update(info=[]), "info: expected a map"),
    (lambda w: w["info"].update(x=b"raw"), r"info\['x'\]: bytes is not allowed"),
    (lambda w: w["info"].update(x=[float("nan")]), r"info\['x'\]\[0\]: nan is not finite"),
    (lambda w: w["info"].update(x={"y": float("inf")}), "not finite"),
    (lambda w: w["info"].update(x={"y": float("-inf")}), "not finite"),
]


@pytest.mark.parametrize(("change", "match"), BAD_SCALARS)
def test_bad_scalar_is_rejected(change: Callable[[dict], None], match: str) -> None:
    assert_rejected(mutated(change), match)


def test_info_depth_is_limited() -> None:
    nested: object = 1
    for _ in range(MAX_INFO_DEPTH):
        nested = [nested]
    assert_rejected(mutated(lambda wire: wire["info"].update(x=nested)), "nested deeper")
    shallow = nested[0]
    assert decode(mutated(lambda wire: wire["info"].update(x=shallow))).info["x"] == shallow


def test_strategy_params_accept_str_int_bool() -> None:
    params = {"a": "s", "b": -(2**63), "c": 2**64 - 1, "d": False}
    decoded = decode(mutated(lambda wire: wire["strategy"].update(params=params)))
    assert decoded.strategy_params == params


# Arrays


BAD_ARRAYS: list[tuple[Callable[[dict], None], str]] = [
    (lambda a: a.update(dtype="<f2"), "dtype '<f2'"),
    (lambda a: a.update(dtype=">f8"), "dtype '>f8'"),
    (lambda a: a.update(dtype="float64"), "dtype 'float64'"),
    (lambda a: a.update(dtype="|O"), "dtype '|O'"),
    (lambda a: a.update(dtype=8), "dtype 8"),
    (lambda a: a.update(shape={"0": 2}), "shape must be a list"),
    (lambda a: a.update(shape=[2, True]), "shape entry: expected an int, got bool"),
    (lambda a: a.update(shape=[2, -2]), "shape entry"),
    (lambda a: a.update(shape=[2, 2.0]), "shape entry"),
    (lambda a: a.update(shape=[1] * (MAX_NDIM + 1)), "dimensions"),
    (lambda a: a.update(shape=[4, 2]), "data has 32 bytes, but dtype <f8 and shape \\(4, 2\\) need 64"),
    (lambda a: a.update(shape=[2**62, 2**62], data=b""), "shape entry"),
    (lambda a: a.update(shape=[40, 40], data=b""), "1600 elements"),
    (lambda a: a.update(data=a["data"][:-1]), "data has 31 bytes"),
    (lambda a: a.update(data=a["data"] + b"\0"), "data has 33 bytes"),
    (lambda a: a.update(data="text"), "data must be bytes"),
    (lambda a: a.update(data=list(a["data"])), "data must be bytes"),
]


@pytest.mark.parametrize(("change", "match"), BAD_ARRAYS)
def test_bad_array_is_rejected_naming_step_and_array(change: Callable[[dict], None], match: str) -> None:
    expected = "trace step 'cases' array 'bound': .*" + match
    assert_rejected(mutated(lambda wire: change(array_of(wire))), expected)


@pytest.mark.parametrize("dtype", ["<f8", "<f4"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_rejected(dtype: str, value: float) -> None:
    data = np.array([1.0, value], dtype=dtype).tobytes()
    obj = {"dtype": dtype, "shape": [2], "data": data}
    with pytest.raises(CertificateFormatError, match="where: contains NaN or inf"):
        decode_array(obj, where="where", max_elements=10)


def test_boolean_bytes_must_be_0_or_1() -> None:
    obj = {"dtype": "|b1", "shape": [3], "data": b"\x00\x01\x02"}
    with pytest.raises(CertificateFormatError, match="boolean byte"):
        decode_array(obj, where="w", max_elements=10)


def test_element_limit_is_inclusive() -> None:
    obj = encode_array(np.zeros((2, 3)))
    assert decode_array(obj, where="w", max_elements=6).shape == (2, 3)
    with pytest.raises(CertificateFormatError, match="6 elements; at most 5"):
        decode_array(obj, where="w", max_elements=5)
    assert_rejected(encode_certificate(make_certificate()), "array 'bound'", max_array_elements=3)


def test_huge_declared_shape_allocates_nothing() -> None:
    obj = {"dtype": "<f8", "shape": [2**31, 2**31], "data": b""}
    tracemalloc.start()
    try:
        with pytest.raises(CertificateFormatError):
            decode_array(obj, where="w", max_elements=2**40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


# Hostile bytes


def test_every_truncation_is_rejected() -> None:
    data = encode_certificate(make_certificate())
    for cut in range(len(data)):
        assert_rejected(data[:cut])


def test_trailing_bytes_are_rejected() -> None:
    data = encode_certificate(make_certificate())
    assert_rejected(data + b"\xc0", "extra data")
    assert_rejected(data + data)


def test_deep_nesting_is_rejected_without_recursion_error() -> None:
    assert_rejected(b"\x91" * 100_000 + b"\xc0")
    assert_rejected(b"\x81\xa1a" * 100_000 + b"\xc0")


@pytest.mark.parametrize(
    "header",
    [
        b"\xdd\xff\xff\xff\xff",  # array32 of 2**32 - 1 elements
        b"\xdf\xff\xff\xff\xff",  # map32
        b"\xc6\xff\xff\xff\xff",  # bin32
        b"\xdb\xff\xff\xff\xff",  # str32
        b"\xc9\xff\xff\xff\xff\x05",  # ext32
    ],
)
def test_huge_declared_lengths_are_rejected_without_allocating(header: bytes) -> None:
    tracemalloc.start()
    try:
        assert_rejected(header + b"\x00" * 64)
        assert_rejected(b"\x81\xa5trace" + header + b"\x00" * 64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_ext_types_are_rejected() -> None:
    ext = msgpack.ExtType(5, b"payload")
    assert_rejected(mutated(lambda wire: wire["info"].update(x=ext)), "extension type 5")
    assert_rejected(pack(ext), "extension type 5")


def test_timestamp_ext_is_rejected() -> None:
    stamp = msgpack.Timestamp(seconds=1)
    assert_rejected(mutated(lambda wire: wire["info"].update(x=stamp)), "Timestamp is not allowed")
    assert_rejected(mutated(lambda wire: wire["claim"].update(value=stamp)), "claim value")
    assert_rejected(b"\xd6\xff\x00", "not valid msgpack")


def test_invalid_utf8_is_rejected() -> None:
    assert_rejected(b"\x81\xa2\xff\xfe\x01", "not valid msgpack")


def test_size_limit_is_checked_before_unpacking() -> None:
    data = encode_certificate(make_certificate())
    with pytest.raises(CertificateFormatError, match=f"{len(data)} bytes, over the 10-byte limit"):
        decode_certificate(data, max_array_elements=LIMIT, max_bytes=10)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_escape_as_other_errors(data: bytes) -> None:
    try:
        decode(data)
    except CertificateFormatError as error:
        assert "\n" not in str(error)


VALID = encode_certificate(make_certificate())


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 255))
def test_single_byte_corruptions_decode_or_fail_cleanly(position: int, value: int) -> None:
    data = VALID[:position] + bytes([value]) + VALID[position + 1 :]
    try:
        decode(data)
    except CertificateFormatError as error:
        assert "\n" not in str(error)


def test_messages_stay_on_one_line() -> None:
    assert_rejected(mutated(lambda wire: wire.update({"evil\nVALID": 1})), r"unknown key 'evil\\nVALID'")
    assert_rejected(mutated(lambda wire: wire["statement"].update(task="x\r\n" * 1000)), "task")


def test_no_pickle_or_eval_anywhere() -> None:
    import certificates

    package = os.path.dirname(certificates.__file__)
    for name in os.listdir(package):
        if name.endswith(".py"):
            with open(os.path.join(package, name), encoding="utf-8") as handle:
                source = handle.read()
            for forbidden in ("import pickle", "pickle.load", "eval(", "exec(", "allow_pickle=True"):
                assert forbidden not in source, (name, forbidden)


# Files


def test_missing_file_is_an_input_error(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "absent.cert")
    with pytest.raises(InputError, match=f"^cannot read certificate {re.escape(path)}: no such file$"):
        read_certificate(path, max_array_elements=LIMIT)


def test_directory_is_an_input_error(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_certificate(tmp_path, max_array_elements=LIMIT)


def test_oversized_file_is_rejected_before_reading(tmp_path: os.PathLike[str], monkeypatch) -> None:
    path = os.path.join(tmp_path, "big.cert")
    write_certificate(path, make_certificate())

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(atomic, "open", refuse, raising=False)
    with pytest.raises(CertificateFormatError, match="over the 16-byte limit"):
        read_certificate(path, max_array_elements=LIMIT, max_bytes=16)


def test_garbage_file_is_a_format_error(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "garbage.cert")
    with open(path, "wb") as handle:
        handle.write(b"\xc1not msgpack")
    with pytest.raises(CertificateFormatError):
        read_certificate(path, max_array_elements=LIMIT)


# Atomic writes


def test_atomic_write_replaces_whole_file(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "out.bin")
    writers.write_bytes_atomic(path, b"old content, longer")
    writers.write_bytes_atomic(path, b"new")
    with open(path, "rb") as handle:
        assert handle.read() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
@pytest.mark.parametrize("existing", [None, b"previous"])
def test_failed_write_leaves_target_untouched_and_no_temp(
    tmp_path: os.PathLike[str], monkeypatch, failing: str, existing: bytes | None
) -> None:
    path = os.path.join(tmp_path, "proof.cert")
    if existing is not None:
        with open(path, "wb") as handle:
            handle.write(existing)

    def fail(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(writers.os, failing, fail)
    with pytest.raises(OSError, match="disk on fire"):
        write_certificate(path, make_certificate())
    monkeypatch.undo()
    if existing is None:
        assert os.listdir(tmp_path) == []
    else:
        assert os.listdir(tmp_path) == ["proof.cert"]
        with open(path, "rb") as handle:
            assert handle.read() == existing


def test_invalid_certificate_is_never_written(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "proof.cert")
    with pytest.raises(ValueError):
        write_certificate(path, make_certificate(claim_correct=-5))
    assert os.listdir(tmp_path) == []
