"""The hostile-input corpus of issue 11: one small input per class the adversarial review found.

:func:`build_corpus` writes every case into a directory and returns the ``check`` command line of each
(certificate, model, options) with the verdicts it may get. It needs numpy and the certificate codec
only (the certificates of large cases are computed with the checker's own enclosures, not the prover),
so it runs in a second. ``full=True`` builds the issue's sizes (for ``bench/hostile_inputs.py``);
the default builds the same classes at sizes that keep the test suite fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import msgpack
import numpy as np

from certificates.codec import Certificate, TraceStep
from certificates.model_file import load_model
from certificates.safetensors import read_safetensors_file
from checker.kernel.flops import COST_MODEL_VERSION
from checker.strategies.cubic import CASE_BLOCK
from prover.writers import encode_certificate, encode_safetensors, save_model, statement_for
from tests.model_factory import random_tensors

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "models" / "max4-v64-d32-seed123.safetensors"
VALID, INVALID, ERROR = 0, 1, 2


@dataclass(frozen=True)
class Case:
    """One hostile input: the issue's class, what it is, the ``check`` arguments and allowed exit codes."""

    kind: str
    description: str
    args: tuple[str, ...]
    exits: tuple[int, ...]
    size: int


def build_corpus(directory: Path, *, full: bool = False) -> list[Case]:
    """Write every case of the corpus under ``directory`` (see the module docstring)."""
    return [case for name in BUILDERS for case in build_cases(name, directory, full=full)]


def build_cases(name: str, directory: Path, *, full: bool = False) -> list[Case]:
    """Write the cases of the builder ``name`` (a key of BUILDERS) under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return BUILDERS[name](directory, full)


def _tensors(seed: int, vocab: int, n_ctx: int, d_model: int, d_head: int) -> dict[str, np.ndarray]:
    """Bias-free Gaussian weights (:func:`tests.model_factory.random_tensors`)."""
    return random_tensors(seed, vocab=vocab, n_ctx=n_ctx, d_model=d_model, d_head=d_head, biases=False)


def _write_model(path: Path, tensors: dict[str, np.ndarray], config: dict | None = None) -> Path:
    save_model(path, tensors, config or {})
    return path


def _write_raw_model(path: Path, tensors: dict[str, np.ndarray], config_text: str) -> Path:
    path.write_bytes(encode_safetensors(tensors, {"config": config_text}))
    return path


def _certificate(model: Path, strategy: str, trace: list[TraceStep], claim: int = 0) -> Certificate:
    weights = load_model(model)
    return Certificate(
        statement=statement_for(weights), strategy_name=strategy, strategy_params={},
        claim_correct=claim, trace=tuple(trace), info={"corpus": "hostile"}, cost_model=COST_MODEL_VERSION,
    )


def brute_force_certificate(model: Path, path: Path) -> Path:
    """A brute-force certificate claiming 0 sequences: the checker still decides every sequence."""
    trace = [TraceStep("failures", {"sequences": np.zeros(0, dtype="<i8")})]
    path.write_bytes(encode_certificate(_certificate(model, "brute-force", trace)))
    return path


def _case(kind: str, description: str, cert: Path, model: Path, exits: tuple[int, ...], *extra: str) -> Case:
    size = cert.stat().st_size + model.stat().st_size
    return Case(kind, description, (str(cert), "--model", str(model), *extra), exits, size)


def _small_model(directory: Path) -> tuple[Path, Path]:
    model = _write_model(directory / "small.safetensors", _tensors(0, 4, 3, 4, 4))
    return model, brute_force_certificate(model, directory / "small.cert")


def _zero_size_tensor(directory: Path, full: bool) -> list[Case]:
    model, cert = _small_model(directory)
    data = model.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    header["blocks.0.attn.mask"] = {"dtype": "F32", "shape": [0, 2**70], "data_offsets": [0, 0]}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    hostile = directory / "zero-size-tensor.safetensors"
    hostile.write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + length :])
    return [_case("exit 3", "zero-size tensor of shape [0, 2^70]", cert, hostile, (ERROR,))]


def _zero_size_trace_array(directory: Path, full: bool) -> list[Case]:
    model, cert = _small_model(directory)
    wire = msgpack.unpackb(cert.read_bytes())
    wire["trace"][0]["arrays"]["sequences"] = {"dtype": "<i8", "shape": [0, 2**62], "data": b""}
    hostile = directory / "zero-size-array.cert"
    hostile.write_bytes(msgpack.packb(wire, use_bin_type=True))
    return [_case("exit 3", "certificate array of shape [0, 2^62]", hostile, model, (ERROR,))]


def _huge_total_count(directory: Path, full: bool) -> list[Case]:
    """V^n above Python's 4,300-digit int-to-str limit: refused by the context limit, and with the
    limits raised, a cubic certificate claiming nothing gets a VALID line printing V^n compactly."""
    n_ctx = 16_000
    model = _write_model(directory / "long.safetensors", _tensors(1, 2, n_ctx, 1, 1))
    order = np.tile(np.arange(n_ctx - 1, dtype="<i4"), (2, 1))
    every = np.ones((2, 2, n_ctx), bool)
    trace = [TraceStep("orderings", {"order": order}), TraceStep("selection", {"triples": every})]
    cert = directory / "long.cert"
    cert.write_bytes(encode_certificate(_certificate(model, "cubic", trace)))
    description = "V^n = 2^16000 (4,817 digits)"
    return [
        _case("exit 3", description, cert, model, (ERROR,)),
        _case("exit 3", description + ", limits raised", cert, model, (VALID,), "--max-context", "20000"),
    ]


def _large_vocabulary(directory: Path, full: bool) -> list[Case]:
    model = _write_model(directory / "wide.safetensors", _tensors(2, 2**16, 2, 1, 1))
    cert = brute_force_certificate(_small_model(directory)[0], directory / "wide.cert")
    return [_case("exit 3", "V = 65,536, d = 1 (was a MemoryError)", cert, model, (ERROR,))]


def _config_exponent(directory: Path, full: bool) -> list[Case]:
    model, cert = _small_model(directory)
    tensors = read_safetensors_file(model).tensors
    hostile = _write_raw_model(directory / "exponent.safetensors", tensors, '{"seed": 1e999999999}')
    return [_case("hang", "config number 1e999999999", cert, hostile, (ERROR,))]


def _tiny_attn_scale(directory: Path, full: bool) -> list[Case]:
    model, cert = _small_model(directory)
    tensors = read_safetensors_file(model).tensors
    hostile = _write_raw_model(directory / "scale.safetensors", tensors, '{"attn_scale": 1e-999999}')
    return [_case("hang", "attn_scale 1e-999999", cert, hostile, (ERROR,))]


def _absurd_context(directory: Path, full: bool) -> list[Case]:
    model = _write_model(directory / "context.safetensors", _tensors(3, 2, 2**22, 1, 1))
    cert = brute_force_certificate(_small_model(directory)[0], directory / "context.cert")
    return [_case("hang", "n = 2^22 (V^n before any limit)", cert, model, (ERROR,))]


def _wide_vocabulary_d1(directory: Path, full: bool) -> list[Case]:
    vocab = 256
    model = _write_model(directory / "d1.safetensors", _tensors(4, vocab, 2, 1, 1))
    cert = brute_force_certificate(model, directory / "d1.cert")
    return [_case("hang", f"d = 1, V = {vocab}, n = 2, brute force", cert, model, (VALID,))]


def _nested_info(directory: Path, full: bool) -> list[Case]:
    """Millions of empty lists in ``info``, for a V = 64 model (a certificate may have 17 MiB)."""
    model = SHIPPED_MODEL
    cert = brute_force_certificate(model, directory / "shipped.cert")
    wire = msgpack.unpackb(cert.read_bytes())
    count = (16 if full else 2) << 20
    wire["info"] = {"nested": [[]] * count}
    hostile = directory / "info.cert"
    hostile.write_bytes(msgpack.packb(wire, use_bin_type=True))
    return [_case("memory", f"info of {count:,} empty lists", hostile, model, (ERROR,))]


def _long_context_brute_force(directory: Path, full: bool) -> list[Case]:
    n_ctx = 24 if full else 16
    model = _write_model(directory / "v2.safetensors", _tensors(5, 2, n_ctx, 4, 4))
    cert = brute_force_certificate(model, directory / "v2.cert")
    return [_case("memory", f"brute force, V = 2, n = {n_ctx}", cert, model, (VALID,))]


def _max_attending_tensors(vocab: int, n_ctx: int) -> dict[str, np.ndarray]:
    """A model that attends to the max token and copies it (d = 2V, h = V): every cubic case is good."""
    d_model, d_head = 2 * vocab, vocab
    eye = np.eye(vocab, dtype=np.float32)
    zeros = np.zeros
    w_k = zeros((d_model, d_head), np.float32)
    # Score step between consecutive tokens: large, but the whole row spans at most 600 (the checker
    # shifts each row by its maximum before exp, and exp(-745) underflows).
    step = min(24.0, 600.0 / (vocab - 1))
    w_k[:vocab, 0] = step * np.sqrt(d_head) * np.arange(vocab)
    return {
        "embed.W_E": np.concatenate([eye, zeros((vocab, vocab), np.float32)], axis=1),
        "pos_embed.W_pos": zeros((n_ctx, d_model), np.float32),
        "blocks.0.attn.W_Q": zeros((1, d_model, d_head), np.float32),
        "blocks.0.attn.b_Q": np.eye(1, d_head, dtype=np.float32),
        "blocks.0.attn.W_K": w_k[None],
        "blocks.0.attn.W_V": np.concatenate([eye, zeros((vocab, vocab), np.float32)])[None],
        "blocks.0.attn.W_O": np.concatenate([zeros((vocab, vocab), np.float32), eye], axis=1)[None],
        "unembed.W_U": np.concatenate([zeros((vocab, vocab), np.float32), eye]),
    }


def _all_cases_good_cubic(directory: Path, full: bool) -> list[Case]:
    """A model on which the checker proves every cubic case, claiming all V^n sequences: the checker
    bounds the whole case grid in blocks of query rows, within the memory limit."""
    vocab, n_ctx = (160 if full else 96), 4
    model = _write_model(directory / "maxattend.safetensors", _max_attending_tensors(vocab, n_ctx))
    order = np.tile(np.arange(n_ctx - 1, dtype="<i4"), (vocab, 1))
    every = np.ones((vocab, vocab, n_ctx), bool)
    trace = [TraceStep("orderings", {"order": order}), TraceStep("selection", {"triples": every})]
    certificate = replace(_certificate(model, "cubic", trace), claim_correct=vocab**n_ctx)
    cert = directory / "cubic-all.cert"
    cert.write_bytes(encode_certificate(certificate))
    blocks = -(-vocab // max(1, CASE_BLOCK // (vocab * vocab * n_ctx)))
    return [_case("memory", f"cubic, every case good, V = {vocab} ({blocks} blocks)", cert, model, (VALID,))]


def _unembedding_zero(directory: Path, full: bool) -> list[Case]:
    """W_U = 0: no margin anywhere, so every sequence goes to stage 2 of the brute force."""
    tensors = dict(read_safetensors_file(SHIPPED_MODEL).tensors) if full else _tensors(6, 16, 4, 8, 8)
    tensors["unembed.W_U"] = np.zeros_like(tensors["unembed.W_U"])
    vocab = tensors["embed.W_E"].shape[0]
    model = _write_model(directory / "wu0.safetensors", tensors)
    cert = brute_force_certificate(model, directory / "wu0.cert")
    return [_case("memory", f"W_U = 0, V = {vocab}, n = 4: all of stage 2", cert, model, (VALID,))]


def _forged_file_name(directory: Path, full: bool) -> list[Case]:
    model, cert = _small_model(directory)
    forged = directory / "x\nVALID forged.cert: brute-force proves accuracy >= 1"
    forged.write_bytes(cert.read_bytes())
    return [_case("forgery", "certificate name with a newline and a VALID line", forged, model, (VALID,))]


def _digest_binding(directory: Path, full: bool) -> list[Case]:
    """The same tensors with another attention scale, a soft cap, or a version-1 certificate."""
    model, cert = _small_model(directory)
    tensors = read_safetensors_file(model).tensors
    rescaled = _write_model(directory / "rescaled.safetensors", tensors, {"attn_scale": 2.0})
    unscaled = _write_model(directory / "unscaled.safetensors", tensors, {"use_attn_scale": False})
    capped = _write_raw_model(directory / "capped.safetensors", tensors, '{"attn_scores_soft_cap": 30.0}')
    wire = msgpack.unpackb(cert.read_bytes())
    del wire["cost_model"], wire["statement"]["model_class"]
    wire.update(version=1, claim={"correct": 0})
    version1 = directory / "version1.cert"
    version1.write_bytes(msgpack.packb(wire, use_bin_type=True))
    return [
        _case("digest", "certificate for scale sqrt(h), model with attn_scale 2", cert, rescaled, (ERROR,)),
        _case("digest", "certificate for scale sqrt(h), model with use_attn_scale false", cert, unscaled, (ERROR,)),
        _case("digest", "config attn_scores_soft_cap 30", cert, capped, (ERROR,)),
        _case("digest", "version-1 certificate", version1, model, (ERROR,)),
    ]


BUILDERS: dict[str, Callable[[Path, bool], list[Case]]] = {
    "zero-size-tensor": _zero_size_tensor,
    "zero-size-trace-array": _zero_size_trace_array,
    "huge-total-count": _huge_total_count,
    "large-vocabulary": _large_vocabulary,
    "config-exponent": _config_exponent,
    "tiny-attn-scale": _tiny_attn_scale,
    "absurd-context": _absurd_context,
    "wide-vocabulary-d1": _wide_vocabulary_d1,
    "nested-info": _nested_info,
    "long-context-brute-force": _long_context_brute_force,
    "all-cases-good-cubic": _all_cases_good_cubic,
    "unembedding-zero": _unembedding_zero,
    "forged-file-name": _forged_file_name,
    "digest-binding": _digest_binding,
}
"""Every corpus builder by name; each writes its files and returns its cases."""
