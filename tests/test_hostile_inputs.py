"""Hostile inputs, unit level: shapes that overflow numpy, huge counts, forged output lines.

The whole-process corpus (address-space and CPU-time limits, every class of issue 11) is in
``tests/test_hostile_corpus.py``; these tests pin the individual guarantees it relies on.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path

import msgpack
import numpy as np
import pytest

from certificates.arrays import count_digits_bound, decode_array, decode_count
from certificates.atomic import read_bytes_bounded
from certificates.codec import TraceStep, decode_certificate
from certificates.errors import MAX_DECIMAL_BITS, CertificateFormatError, ModelFileError, format_count, printable
from certificates.model_file import load_model
from certificates.safetensors import decode_safetensors
from checker.cli import json_count
from prover.writers import encode_safetensors, save_model
from tests.cli_runner import assert_one_line_error, check
from tests.hostile_corpus import brute_force_certificate
from tests.model_factory import random_tensors, write_model


@pytest.mark.parametrize("shape", [[0, 2**70], [2**70, 0], [0, 2**62, 2**62], [0] * 3 + [2**41]])
def test_zero_size_array_with_huge_dimension_is_refused(shape):
    wire = {"dtype": "<f8", "shape": shape, "data": b""}
    with pytest.raises(CertificateFormatError, match="shape"):
        decode_array(wire, where="a", max_elements=2**80)


def test_zero_size_array_within_limits_still_decodes():
    assert decode_array({"dtype": "<i8", "shape": [0, 3], "data": b""}, where="a", max_elements=8).shape == (0, 3)


def _with_header_entry(data: bytes, name: str, entry: dict) -> bytes:
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    header[name] = entry
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + data[8 + length :]


@pytest.mark.parametrize("shape", [[0, 2**70], [2**40, 0, 2**40]])
def test_zero_size_tensor_with_huge_dimension_is_refused(shape):
    data = encode_safetensors({"x": np.zeros(2, np.float32)}, {})
    hostile = _with_header_entry(data, "y", {"dtype": "F32", "shape": shape, "data_offsets": [8, 8]})
    with pytest.raises(ModelFileError, match="elements"):
        decode_safetensors(hostile)


@pytest.mark.parametrize("bits", [1, 64, MAX_DECIMAL_BITS])
def test_format_count_is_exact_decimal_up_to_the_limit(bits):
    value = (1 << bits) - 1
    assert format_count(value) == str(value) and json_count(value) == value


def test_format_count_of_a_huge_count_is_compact():
    value = 3**200_000  # about 95,000 digits, above Python's int-to-str limit
    text = format_count(value)
    assert text.startswith("~") and text.endswith("e+95424") and len(text) < 20
    assert int(json_count(value), 16) == value


def test_printable_escapes_line_breaks_and_controls():
    assert printable("a\nVALID b\r\x1b[2J\u2028") == "a\\nVALID b\\r\\x1b[2J\\u2028"


def test_file_name_cannot_forge_a_verdict_line(tmp_path):
    model = tmp_path / "model.safetensors"
    write_model(model, random_tensors(3, vocab=3, n_ctx=2, d_model=2, d_head=2))
    forged = tmp_path / "x\nVALID forged.cert: brute-force proves accuracy >= 1 = 9 of 9"
    forged.write_bytes(msgpack.packb({"not": "a certificate"}))
    result = check(forged, "--model", model)
    assert_one_line_error(result, 2)
    assert len(result.stdout.splitlines()) == 1 and result.stdout.startswith("ERROR ")
    assert "\\nVALID forged" in result.stdout
    shutil.copy(model, tmp_path / "m\nVALID")
    result = check(tmp_path / "missing.cert", "--model", tmp_path / "m\nVALID")
    assert_one_line_error(result, 2)
    assert len(result.stdout.splitlines()) == 1


def test_model_file_name_is_escaped_in_errors(tmp_path):
    path = Path(tmp_path) / "bad\nVALID.safetensors"
    path.write_bytes(b"\0" * 4)
    result = check(tmp_path / "any.cert", "--model", path)
    assert_one_line_error(result, 2)
    assert "\\nVALID" in result.stderr


def _model_with_config_text(path: Path, config_text: str) -> Path:
    tensors = random_tensors(5, vocab=3, n_ctx=2, d_model=2, d_head=2)
    path.write_bytes(encode_safetensors(tensors, {"config": config_text}))
    return path


@pytest.mark.parametrize(
    ("config_text", "reason"),
    [
        ('{"seed": 1e999999999}', "exponent"),
        ('{"lr": 1e-999999999}', "exponent"),
        ('{"attn_scale": 1e-999999}', "exponent"),
        ('{"x": ' + "9" * 5000 + "}", "characters"),
        ('{"x": 0.' + "1" * 100 + "}", "characters"),
        ('{"attn_scale": 1e-30}', "outside"),
        ('{"attn_scale": 1e30}', "outside"),
    ],
)
def test_hostile_config_numbers_are_refused_quickly(tmp_path, config_text, reason):
    path = _model_with_config_text(tmp_path / "m.safetensors", config_text)
    with pytest.raises(ModelFileError, match=reason):
        load_model(path)


def test_info_of_millions_of_empty_lists_is_refused_by_the_object_budget():
    data = msgpack.packb({"format": "compact-proofs-certificate", "info": {"x": [[]] * 2**20}})
    tracemalloc.start()
    try:
        with pytest.raises(CertificateFormatError, match="msgpack objects"):
            decode_certificate(data, max_array_elements=16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.fixture(scope="module")
def small_check(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny model (V = 5, n = 3, d = h = 4) and a brute-force certificate claiming nothing."""
    directory = tmp_path_factory.mktemp("limits")
    model = directory / "model.safetensors"
    write_model(model, random_tensors(7, vocab=5, n_ctx=3, d_model=4, d_head=4))
    return model, brute_force_certificate(model, directory / "bf.cert")


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--max-vocab", "4", "d_vocab V = 5"), ("--max-context", "2", "n_ctx n = 3"),
     ("--max-width", "3", "d_model d = 4"), ("--max-work", "1e3", "estimated work of brute-force")],
)
def test_each_limit_refuses_with_one_line_naming_its_option(small_check, option, value, named):
    model, cert = small_check
    assert check(cert, "--model", model).returncode == 0
    result = check(cert, "--model", model, option, value)
    assert_one_line_error(result, 2)
    assert named in result.stderr and f"(raise it with {option})" in result.stderr


def test_model_file_over_the_size_limits_is_refused_before_reading(small_check, tmp_path):
    _, cert = small_check
    tensors = random_tensors(7, vocab=5, n_ctx=3, d_model=4, d_head=4)
    tensors["blocks.0.attn.IGNORE"] = np.zeros(1 << 20, dtype=np.float32)  # a 4 MiB buffer
    model = tmp_path / "padded.safetensors"
    model.write_bytes(encode_safetensors(tensors, {}))
    result = check(cert, "--model", model, "--max-vocab", "8", "--max-context", "8", "--max-width", "8")
    assert_one_line_error(result, 2)
    assert "the size limits allow" in result.stderr and "--max-width" in result.stderr


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "x", "1e999999999"])
def test_bad_limit_values_are_usage_errors(small_check, value):
    model, cert = small_check
    result = check(cert, "--model", model, "--max-work", value)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_files_differing_only_in_the_attention_scale_have_different_digests(small_check, tmp_path):
    model, cert = small_check
    tensors = random_tensors(7, vocab=5, n_ctx=3, d_model=4, d_head=4)
    rescaled = tmp_path / "rescaled.safetensors"
    save_model(rescaled, tensors, {"attn_scale": 3.0})
    assert load_model(rescaled).digest != load_model(model).digest
    assert check(cert, "--model", model).returncode == 0
    result = check(cert, "--model", rescaled)
    assert_one_line_error(result, 2)
    assert "digest" in result.stderr


def test_version_1_certificate_is_one_error_line_naming_the_version(small_check, tmp_path):
    model, cert = small_check
    wire = msgpack.unpackb(cert.read_bytes())
    del wire["cost_model"], wire["statement"]["model_class"]
    wire.update(version=1, claim={"correct": 0})
    old = tmp_path / "old.cert"
    old.write_bytes(msgpack.packb(wire, use_bin_type=True))
    result = check(old, "--model", model)
    assert_one_line_error(result, 2)
    assert "version 1" in result.stderr


CHUNKED_STRATEGIES = [
    ("cubic", "checker.strategies.cubic"),
    ("cubic-ov-chord", "checker.strategies.cubic"),
    ("subcubic/EUPU=max-diff-exact,attn=mean-query+diff,attn-err=exact", "checker.strategies.subcubic"),
    ("subcubic/EUPU=max-diff,attn=drop-average-query,attn-err=svd", "checker.strategies.subcubic"),
]


@pytest.mark.parametrize(("strategy", "module"), CHUNKED_STRATEGIES)
def test_chunked_replay_gives_the_same_verdict_as_one_chunk(tmp_path, monkeypatch, strategy, module):
    """The case grid replayed one query row at a time certifies exactly what it does in one piece, with the
    same proof length (what every case shares is computed once, whatever the chunks), and a claim raised
    above its enclosure in a later chunk (for the cubic family, which claims only a count: a count one
    above) is still INVALID."""
    import importlib

    import torch

    from checker.verify import verify
    from prover import strategies
    from prover.certify import prove
    from prover.writers import write_certificate
    from tests.generators import ModelSpec, build_model

    model = build_model(ModelSpec(kind="trained", seed=0, vocab=5, n_ctx=4, d_model=8), tmp_path)
    certificate, _ = prove(model.weights, strategies.lookup(strategy), torch.device("cpu"))
    cert = tmp_path / "c.cert"
    write_certificate(cert, certificate)
    whole = verify(cert, model.path)
    assert whole.status == "VALID" and whole.certified_count > 0
    monkeypatch.setattr(importlib.import_module(module), "CASE_BLOCK", 1)
    chunked = verify(cert, model.path)
    outcome = (whole.status, whole.certified_count, whole.flops)
    assert (chunked.status, chunked.certified_count, chunked.flops) == outcome
    assert chunked.notes == whole.notes
    step = certificate.trace[-1]
    tampered = tmp_path / "t.cert"
    if "bound" in step.arrays:  # a claimed bound in the last chunk, below its enclosure
        bound = step.arrays["bound"].copy()
        bound[-1] = np.float32(-3.0e38)
        trace = (*certificate.trace[:-1], TraceStep(step.step, {**step.arrays, "bound": bound}))
        write_certificate(tampered, replace(certificate, trace=trace))
    else:  # the cubic family claims only the count
        write_certificate(tampered, replace(certificate, claim_correct=certificate.claim_correct + 1))
    assert verify(tampered, model.path).status == "INVALID"


def test_a_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO with no writer: opened without blocking and refused from its descriptor's type, so a
    certificate or model path swapped for a FIFO cannot hang the checker (the test times out if it does)."""
    fifo = tmp_path / "pipe.cert"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        read_bytes_bounded(fifo, 1 << 20)


@pytest.mark.parametrize("digits", [1, 4000, 4001, 9001, 20_000])
def test_count_digits_convert_exactly(digits):
    text = "".join(str((7 * i + 3) % 10) for i in range(digits)).lstrip("0") or "0"
    sys.set_int_max_str_digits(0)
    try:
        assert decode_count(text, "x") == int(text)
    finally:
        sys.set_int_max_str_digits(4300)


def test_claim_digits_are_bounded_by_the_statement(tmp_path):
    """A claim longer than V^n can be is refused from its length, before any conversion: at V = 4, n = 3
    a 1,000-digit claim never becomes an int."""
    model = tmp_path / "m.safetensors"
    write_model(model, random_tensors(3, vocab=4, n_ctx=3, d_model=2, d_head=2))
    cert = msgpack.unpackb(brute_force_certificate(model, tmp_path / "c.cert").read_bytes())
    cert["claim"]["value"] = "9" * 1000
    with pytest.raises(CertificateFormatError, match=r"claim value.*1 to 3 decimal digits"):
        decode_certificate(msgpack.packb(cert), max_array_elements=1 << 20)
    assert count_digits_bound(4, 3) == 3 and count_digits_bound(10, 5) == 7
