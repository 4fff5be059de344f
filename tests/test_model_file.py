"""Model file: safetensors reader/writer, TransformerLens validation, exact config, digest."""

from __future__ import annotations

import hashlib
import json
import os
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from certificates.errors import ModelFileError
from certificates.model_file import REQUIRED_TENSORS, TENSOR_NAMES, load_model, model_digest
from certificates.safetensors import decode_safetensors, read_safetensors_file
from prover.writers import encode_safetensors, save_model, write_safetensors

V, N, D, H = 8, 3, 4, 5


def digest_of(tensors: dict[str, np.ndarray]) -> str:
    """The statement digest of ``tensors`` with the default scale and an empty config."""
    return model_digest(tensors, attn_scale_squared=Fraction(H), config={})
SIZES = {"V": V, "n": N, "d": D, "h": H}
BIASES = [name for name in TENSOR_NAMES if name not in REQUIRED_TENSORS]


def make_tensors(seed: int = 0, *, biases: bool = False) -> dict[str, np.ndarray]:
    """Random float32 weights with TransformerLens names and shapes, plus the two attention buffers."""
    rng = np.random.default_rng(seed)
    names = TENSOR_NAMES if biases else REQUIRED_TENSORS
    tensors = {
        name: rng.standard_normal([SIZES.get(dim, dim) for dim in TENSOR_NAMES[name]]).astype(np.float32)
        for name in names
    }
    tensors["blocks.0.attn.mask"] = np.tril(np.ones((N, N), dtype=bool))
    tensors["blocks.0.attn.IGNORE"] = np.array(-1e5, dtype=np.float32)
    return tensors


def write_model(path: Path, tensors: dict[str, np.ndarray], config: object = None) -> Path:
    """Write a model file without save_model's validation; ``config`` is a dict or raw JSON text."""
    metadata = {}
    if config is not None:
        metadata["config"] = config if isinstance(config, str) else json.dumps(config)
    write_safetensors(path, tensors, metadata)
    return path


def rejected(tmp_path: Path, tensors: dict[str, np.ndarray], match: str, config: object = None) -> str:
    """Assert load_model rejects the model with a one-line message matching ``match``."""
    path = write_model(tmp_path / "model.safetensors", tensors, config)
    with pytest.raises(ModelFileError, match=match) as caught:
        load_model(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


def raw_safetensors(header: object, buffer: bytes = b"", *, length: int | None = None) -> bytes:
    """Hand-made safetensors bytes (header JSON padded to 8 bytes) for malformed-file tests."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return (len(text) if length is None else length).to_bytes(8, "little") + text + buffer


# Loading


def test_round_trip_squeezes_heads_and_defaults_biases(tmp_path: Path) -> None:
    tensors = make_tensors()
    save_model(tmp_path / "m.safetensors", tensors, {"n_layers": 1, "d_vocab": V})
    model = load_model(tmp_path / "m.safetensors")
    assert (model.d_vocab, model.n_ctx, model.d_model, model.d_head) == (V, N, D, H)
    assert np.array_equal(model.W_E, tensors["embed.W_E"])
    assert np.array_equal(model.W_Q, tensors["blocks.0.attn.W_Q"][0])
    assert np.array_equal(model.W_O, tensors["blocks.0.attn.W_O"][0])
    assert model.W_O.shape == (H, D) and model.W_U.shape == (D, V)
    for name, size in [("b_Q", H), ("b_K", H), ("b_V", H), ("b_O", D), ("b_U", V)]:
        bias = getattr(model, name)
        assert bias.shape == (size,) and bias.dtype == np.float32 and not bias.any()
    for field in ("W_E", "W_pos", "W_Q", "b_Q", "b_U", "W_U"):
        array = getattr(model, field)
        assert array.dtype == np.float32 and not array.flags.writeable
    assert model.attn_scale_squared == Fraction(H)
    assert model.config == {"n_layers": 1, "d_vocab": V}
    assert model.digest == model_digest(tensors, attn_scale_squared=Fraction(H), config=model.config)


def test_present_biases_are_read(tmp_path: Path) -> None:
    tensors = make_tensors(biases=True)
    model = load_model(write_model(tmp_path / "m.safetensors", tensors))
    assert np.array_equal(model.b_Q, tensors["blocks.0.attn.b_Q"][0])
    assert np.array_equal(model.b_O, tensors["blocks.0.attn.b_O"])
    assert np.array_equal(model.b_U, tensors["unembed.b_U"])


def test_buffers_and_hooks_are_ignored(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["hook_embed"] = np.zeros(2, dtype=np.float64)
    tensors["blocks.0.hook_resid_pre"] = np.zeros(1, dtype=np.int64)
    model = load_model(write_model(tmp_path / "m.safetensors", tensors))
    assert model.digest == digest_of(make_tensors())


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.safetensors"
    with pytest.raises(ModelFileError, match=f"^cannot read model {re.escape(str(path))}: no such file$"):
        load_model(path)
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)


# Rejections


def test_second_layer(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["blocks.1.attn.W_Q"] = tensors["blocks.0.attn.W_Q"]
    rejected(tmp_path, tensors, "two or more layers")


@pytest.mark.parametrize("name", ["blocks.0.attn.W_Q", "blocks.0.attn.W_O", "blocks.0.attn.b_K"])
def test_two_heads(tmp_path: Path, name: str) -> None:
    tensors = make_tensors(biases=True)
    tensors[name] = np.concatenate([tensors[name], tensors[name]])
    rejected(tmp_path, tensors, "model has 2 heads")


def test_mlp(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["blocks.0.mlp.W_in"] = np.zeros((D, 4 * D), dtype=np.float32)
    rejected(tmp_path, tensors, "MLP")


@pytest.mark.parametrize("name", ["ln_final.w", "blocks.0.ln1.b", "blocks.0.LayerNorm.weight"])
def test_layer_norm(tmp_path: Path, name: str) -> None:
    tensors = make_tensors()
    tensors[name] = np.ones(D, dtype=np.float32)
    rejected(tmp_path, tensors, "LayerNorm")


def test_output_vocabulary_differs(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["unembed.W_U"] = np.zeros((D, V + 1), dtype=np.float32)
    rejected(tmp_path, tensors, r"V_out = 9 .*\(V_out != V\)")


def test_unknown_tensor(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["blocks.0.attn.W_X"] = np.zeros(1, dtype=np.float32)
    rejected(tmp_path, tensors, "unknown tensor 'blocks.0.attn.W_X'")


@pytest.mark.parametrize("name", REQUIRED_TENSORS)
def test_missing_required_tensor(tmp_path: Path, name: str) -> None:
    tensors = make_tensors()
    del tensors[name]
    rejected(tmp_path, tensors, f"missing tensor {name}")


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("pos_embed.W_pos", (N, D + 1)),
        ("blocks.0.attn.W_K", (1, D, H + 1)),
        ("blocks.0.attn.W_V", (1, H, D)),
        ("blocks.0.attn.W_Q", (D, H)),
        ("blocks.0.attn.b_Q", (H,)),
        ("blocks.0.attn.b_O", (H,)),
        ("unembed.b_U", (1, V)),
        ("unembed.W_U", (V, D)),
    ],
)
def test_shape_mismatch(tmp_path: Path, name: str, shape: tuple[int, ...]) -> None:
    tensors = make_tensors()
    tensors[name] = np.zeros(shape, dtype=np.float32)
    rejected(tmp_path, tensors, f"tensor {name} has shape|V_out")


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_non_float32_weight(tmp_path: Path, dtype: type) -> None:
    tensors = make_tensors()
    tensors["embed.W_E"] = tensors["embed.W_E"].astype(dtype)
    rejected(tmp_path, tensors, "tensor embed.W_E has dtype .*F32")


def test_bfloat16_is_read_as_its_bit_patterns() -> None:
    """The checker reads F32 tensors only; a BF16 tensor is parsed (so the file's layout is checked) and
    kept as its raw 16-bit patterns."""
    bits = np.array([0x3F80, 0xC040, 0x0001], dtype="<u2")  # 1.0, -3.0, the smallest subnormal
    data = raw_safetensors({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}, bits.tobytes())
    parsed = decode_safetensors(data)
    assert parsed.dtypes == {"w": "BF16"} and parsed.tensors["w"].tolist() == bits.tolist()


def test_bfloat16_weight_is_rejected(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["embed.W_E"] = tensors["embed.W_E"].astype(np.float16)
    data = encode_safetensors(tensors, {})
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    header["embed.W_E"]["dtype"] = "BF16"
    path = tmp_path / "m.safetensors"
    path.write_bytes(raw_safetensors(header, data[8 + length :]))
    with pytest.raises(ModelFileError, match=r"tensor embed\.W_E has dtype BF16"):
        load_model(path)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", ["blocks.0.attn.W_K", "unembed.b_U"])
def test_non_finite_weight_is_named(tmp_path: Path, value: float, name: str) -> None:
    tensors = make_tensors(biases=True)
    tensors[name] = tensors[name].copy()
    tensors[name].flat[1] = value
    rejected(tmp_path, tensors, f"tensor {name} contains NaN or inf")


def test_single_position_is_rejected(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["pos_embed.W_pos"] = tensors["pos_embed.W_pos"][:1]
    rejected(tmp_path, tensors, "n_ctx = 1")


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"n_layers": 2}, "n_layers"),
        ({"n_heads": 2}, "n_heads"),
        ({"d_vocab": V + 1}, "d_vocab = 9, but the tensors have 8"),
        ({"n_ctx": N + 1}, "n_ctx"),
        ({"n_ctx": float(N)}, "n_ctx"),
        ({"d_model": D + 1}, "d_model"),
        ({"d_head": D}, "d_head"),
        ({"d_vocab_out": V + 1}, "V_out != V"),
        ({"normalization_type": "LN"}, "normalization_type"),
        ({"attn_only": False}, "attn_only"),
        ({"d_mlp": 16}, "d_mlp"),
        ({"positional_embedding_type": "rotary"}, "positional_embedding_type"),
        ({"n_layers": True}, "n_layers"),
        ({"use_attn_scale": 1}, "use_attn_scale"),
        ({"attn_scale": 0}, "attn_scale"),
        ({"attn_scale": -2.5}, "attn_scale"),
        ({"attn_scale": "2"}, "attn_scale"),
        ('{"attn_scale": NaN}', "not valid JSON"),
        ('{"n_layers": 1, "n_layers": 2}', "duplicate key"),
        ("[1]", "not a JSON object"),
        ("{", "not valid JSON"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_contradicting_config(tmp_path: Path, config: object, match: str) -> None:
    rejected(tmp_path, make_tensors(), match, config)


def test_consistent_config_is_accepted(tmp_path: Path) -> None:
    config = {
        "n_layers": 1,
        "n_heads": 1,
        "d_vocab": V,
        "n_ctx": N,
        "d_model": D,
        "d_head": H,
        "d_vocab_out": -1,
        "normalization_type": None,
        "attn_only": True,
        "d_mlp": None,
        "positional_embedding_type": "standard",
        "act_fn": "relu",
        "seed": 123,
    }
    assert load_model(write_model(tmp_path / "m.safetensors", make_tensors(), config)).config == config


# Attention scale


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, Fraction(H)),
        ('{"attn_scale": 0.1}', Fraction(1, 100)),
        ('{"attn_scale": 1e-1}', Fraction(1, 100)),
        ('{"attn_scale": 2.2360679774997896}', Fraction("2.2360679774997896") ** 2),
        ('{"attn_scale": 3}', Fraction(9)),
        ('{"attn_scale": -1}', Fraction(H)),
        ('{"use_attn_scale": false, "attn_scale": 7}', Fraction(1)),
        ('{"use_attn_scale": true}', Fraction(H)),
    ],
)
def test_attention_scale_is_exact(tmp_path: Path, config: str | None, expected: Fraction) -> None:
    model = load_model(write_model(tmp_path / "m.safetensors", make_tensors(), config))
    assert model.attn_scale_squared == expected
    assert type(model.attn_scale_squared) is Fraction


def test_decimal_scale_is_not_read_as_float(tmp_path: Path) -> None:
    model = load_model(write_model(tmp_path / "m.safetensors", make_tensors(), '{"attn_scale": 0.1}'))
    assert model.attn_scale_squared != Fraction(0.1) ** 2
    assert model.config["attn_scale"] == Fraction(1, 10)


# Digest


def test_digest_follows_the_spec_formula() -> None:
    tensors = {"unembed.W_U": np.array([[1.0, -2.0]], dtype=">f4"), "embed.W_E": np.zeros((2, 1), np.float32)}
    expected = hashlib.sha256(b"compact-proofs statement v2\x00")
    expected.update(b"embed.W_E\x002,1\x00" + bytes(8))
    expected.update(b"unembed.W_U\x001,2\x00" + np.array([1.0, -2.0], dtype="<f4").tobytes())
    expected.update(b"attn_scale_squared\x0025/4\x00")
    expected.update(b'config\x00{"attn_scale":"5/2","n_layers":1}')
    config = {"n_layers": 1, "attn_scale": Fraction(5, 2), "seed": 3}
    assert model_digest(tensors, attn_scale_squared=Fraction(25, 4), config=config) == expected.hexdigest()


SAME_FUNCTION_CONFIGS = [{}, {"seed": 1, "lr": "0.001"}, {"attn_scores_soft_cap": -1.0, "window_size": None}]


def test_digest_binds_the_attention_scale_and_honoured_config(tmp_path: Path) -> None:
    tensors = make_tensors()
    configs = [{}, {"attn_scale": 2.0}, {"attn_scale": 2.5}, {"use_attn_scale": False}, {"n_layers": 1}]
    digests = {load_model(write_model(tmp_path / f"{i}.safetensors", tensors, c)).digest for i, c in enumerate(configs)}
    assert len(digests) == len(configs)
    seed_only = load_model(write_model(tmp_path / "seed.safetensors", tensors, {"seed": 7, "lr": "0.1"}))
    assert seed_only.digest == load_model(write_model(tmp_path / "none.safetensors", tensors)).digest


def test_rotary_settings_are_inert_with_standard_positions(tmp_path: Path) -> None:
    """Rotary-embedding keys do nothing when positional_embedding_type is "standard" (required), so any
    value is accepted and none is hashed; d_mlp with attn_only true is accepted and hashed."""
    tensors = make_tensors()
    base = {"attn_only": True, "positional_embedding_type": "standard"}
    plain = load_model(write_model(tmp_path / "plain.safetensors", tensors, base))
    rotary = {**base, "rotary_dim": 4, "rotary_base": 500000, "use_yarn_rope": True, "NTK_by_parts_factor": 3.5}
    assert load_model(write_model(tmp_path / "rotary.safetensors", tensors, rotary)).digest == plain.digest
    with_mlp_width = load_model(write_model(tmp_path / "mlp.safetensors", tensors, {**base, "d_mlp": 4 * D}))
    assert with_mlp_width.digest != plain.digest


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"attn_scores_soft_cap": 30.0}, "changes the computation"),
        ({"attn_types": ["local"]}, "changes the computation"),
        ({"window_size": 2}, "changes the computation"),
        ({"use_local_attn": True}, "changes the computation"),
        ({"attention_dir": "bidirectional"}, "changes the computation"),
        ({"d_mlp": 128}, "attn_only true"),
        ({"d_mlp": 0, "attn_only": True}, "d_mlp"),
        ({"mystery_switch": 1}, "not supported"),
        ({"task": "min"}, "task"),
        ({"use_attn_scale": 1}, "boolean"),
    ],
)
def test_config_keys_that_change_the_computation_are_refused(tmp_path: Path, config: dict, reason: str) -> None:
    with pytest.raises(ModelFileError, match=reason):
        load_model(write_model(tmp_path / "m.safetensors", make_tensors(), config))


@pytest.mark.parametrize("config", SAME_FUNCTION_CONFIGS)
def test_metadata_and_neutral_values_are_accepted(tmp_path: Path, config: dict) -> None:
    assert load_model(write_model(tmp_path / "m.safetensors", make_tensors(), config)).config == {
        key: (Fraction(value) if isinstance(value, float) else value) for key, value in config.items()
    }


def test_digest_is_independent_of_dict_order_and_buffers() -> None:
    tensors = make_tensors()
    shuffled = dict(reversed(list(tensors.items())))
    assert digest_of(tensors) == digest_of(shuffled)
    del shuffled["blocks.0.attn.mask"]
    assert digest_of(tensors) == digest_of(shuffled)


@pytest.mark.parametrize("name", REQUIRED_TENSORS)
def test_digest_changes_when_one_bit_flips(name: str) -> None:
    tensors = make_tensors()
    flipped = dict(tensors)
    bits = tensors[name].copy().view(np.uint32)
    bits.flat[0] ^= 1
    flipped[name] = bits.view(np.float32)
    assert digest_of(flipped) != digest_of(tensors)


def test_digest_covers_shapes_and_present_zero_biases() -> None:
    tensors = make_tensors()
    reshaped = dict(tensors, **{"embed.W_E": tensors["embed.W_E"].reshape(D, V)})
    assert digest_of(reshaped) != digest_of(tensors)
    with_zero_bias = dict(tensors, **{"unembed.b_U": np.zeros(V, dtype=np.float32)})
    assert digest_of(with_zero_bias) != digest_of(tensors)
    negative_zero = dict(tensors, **{"unembed.b_U": np.full(V, -0.0, dtype=np.float32)})
    assert digest_of(negative_zero) != digest_of(with_zero_bias)


def test_digest_requires_float32() -> None:
    with pytest.raises(ValueError, match="float32"):
        digest_of({"embed.W_E": np.zeros((2, 2))})


# Saving


def test_save_model_refuses_invalid_models(tmp_path: Path) -> None:
    tensors = make_tensors()
    tensors["embed.W_E"] = tensors["embed.W_E"].copy()
    tensors["embed.W_E"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_model(tmp_path / "m.safetensors", tensors, {})
    with pytest.raises(ValueError, match="JSON"):
        save_model(tmp_path / "m.safetensors", make_tensors(), {"scale": float("nan")})
    with pytest.raises(ValueError, match="n_heads"):
        save_model(tmp_path / "m.safetensors", make_tensors(), {"n_heads": 4})
    assert os.listdir(tmp_path) == []


# Safetensors format


def test_official_layout_single_tensor() -> None:
    # Byte layout of the reference implementation's serialisation test: one F32 tensor [1, 2, 3].
    data = encode_safetensors({"attn.0": np.arange(6, dtype=np.float32).reshape(1, 2, 3)}, {})
    header = b'{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'
    assert data == (64).to_bytes(8, "little") + header + np.arange(6, dtype="<f4").tobytes()


def test_official_layout_header_padding_and_metadata() -> None:
    assert encode_safetensors({}, {}) == (8).to_bytes(8, "little") + b"{}      "
    data = encode_safetensors({}, {"framework": "pt"})
    assert data == (40).to_bytes(8, "little") + b'{"__metadata__":{"framework":"pt"}}     '
    padded = encode_safetensors({"attn0": np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)}, {})
    assert int.from_bytes(padded[:8], "little") == 72 and padded[8 + 65 : 8 + 72] == b" " * 7


def test_writer_orders_by_alignment_then_name() -> None:
    tensors = {"b": np.zeros(1, np.uint8), "a": np.zeros(1, np.float32), "c": np.zeros(1, np.float64)}
    data = encode_safetensors(tensors, {})
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    assert [name for name in header] == ["c", "a", "b"]
    assert header["a"]["data_offsets"] == [8, 12]


def test_safetensors_round_trip_all_dtypes(tmp_path: Path) -> None:
    tensors = {
        "f64": np.array([1.5, -0.0]),
        "f32": np.arange(6, dtype=">f4").reshape(2, 3),
        "f16": np.array([0.5], dtype=np.float16),
        "i64": np.array([-(2**62)], dtype=np.int64),
        "i32": np.array([[7]], dtype=np.int32),
        "u8": np.array([255], dtype=np.uint8),
        "bool": np.array([True, False]),
        "scalar": np.array(3.0, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "nan": np.array([np.nan], dtype=np.float32),
    }
    metadata = {"config": "{}", "format": "pt", "ünïcode": "✓"}
    write_safetensors(tmp_path / "t.safetensors", tensors, metadata)
    parsed = read_safetensors_file(tmp_path / "t.safetensors")
    read, read_metadata = parsed.tensors, parsed.metadata
    assert read_metadata == metadata and set(read) == set(tensors)
    for name, values in tensors.items():
        assert read[name].dtype == values.dtype.newbyteorder("=") and read[name].shape == values.shape
        assert np.array_equal(read[name], values, equal_nan=values.dtype.kind == "f")
        assert not read[name].flags.writeable
    assert os.listdir(tmp_path) == ["t.safetensors"]


@pytest.mark.parametrize(
    ("tensors", "metadata"),
    [
        ({"x": np.zeros(1, np.int16)}, {}),
        ({"x": np.zeros(1, np.complex64)}, {}),
        ({"": np.zeros(1, np.float32)}, {}),
        ({"__metadata__": np.zeros(1, np.float32)}, {}),
        ({}, {"k": 1}),
    ],
)
def test_writer_rejects_what_it_cannot_write(tensors: dict, metadata: dict) -> None:
    with pytest.raises(ValueError):
        encode_safetensors(tensors, metadata)


ONE = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
FOUR_BYTES = b"\0\0\x80\x3f"

MALFORMED = [
    (b"\x08\0\0\0", "fewer than the 8-byte"),
    ((2**63).to_bytes(8, "little") + b"{}", "exceeds"),
    (raw_safetensors({}, length=64), "runs past the end"),
    (raw_safetensors(b"\xff\xfe{}"), "not valid UTF-8"),
    (raw_safetensors(b' {"x": 1}'), "does not start with"),
    (raw_safetensors(b"{"), "not valid JSON"),
    (raw_safetensors(b'{"a": NaN}'), "not valid JSON: NaN"),
    (raw_safetensors(b'{"w": {}, "w": {}}'), "duplicate key 'w'"),
    (raw_safetensors(b'{"a":' * 50_000), "not valid JSON: nested too deeply"),
    (raw_safetensors({"w": dict(ONE, extra=1)}, FOUR_BYTES), "exactly the keys"),
    (raw_safetensors({"w": {"dtype": "F32", "shape": [1]}}, FOUR_BYTES), "exactly the keys"),
    (raw_safetensors({"w": [1]}, FOUR_BYTES), "exactly the keys"),
    (raw_safetensors({"w": dict(ONE, dtype="I8")}, FOUR_BYTES), "unsupported dtype 'I8'"),
    (raw_safetensors({"w": dict(ONE, dtype=4)}, FOUR_BYTES), "unsupported dtype 4"),
    (raw_safetensors({"w": dict(ONE, shape=[-1])}, FOUR_BYTES), "shape"),
    (raw_safetensors({"w": dict(ONE, shape=[True])}, FOUR_BYTES), "shape"),
    (raw_safetensors({"w": dict(ONE, shape=[1.0])}, FOUR_BYTES), "shape"),
    (raw_safetensors({"w": dict(ONE, shape=[1] * 17)}, FOUR_BYTES), "shape"),
    (raw_safetensors({"w": dict(ONE, shape=[2**40, 2**40])}, FOUR_BYTES), "do not match"),
    (raw_safetensors({"w": dict(ONE, data_offsets=[0])}, FOUR_BYTES), "data_offsets"),
    (raw_safetensors({"w": dict(ONE, data_offsets=[4, 0])}, FOUR_BYTES), "do not match"),
    (raw_safetensors({"w": dict(ONE, data_offsets=[0, 8])}, FOUR_BYTES * 2), "do not match"),
    (raw_safetensors({"w": dict(ONE, data_offsets=[4, 8])}, FOUR_BYTES * 2), "starts at 4, expected 0"),
    (raw_safetensors({"w": ONE, "v": ONE}, FOUR_BYTES), "starts at 0, expected 4"),
    (raw_safetensors({"w": ONE}, FOUR_BYTES + b"\0"), "cover 4 bytes of a 5-byte"),
    (raw_safetensors({"w": ONE}, b"\0\0"), "cover 4 bytes of a 2-byte"),
    (raw_safetensors({"w": dict(ONE, dtype="BOOL", data_offsets=[0, 1])}, b"\x02"), "BOOL byte"),
    (raw_safetensors({"__metadata__": {"k": 1}}), "metadata entry 'k'"),
    (raw_safetensors({"__metadata__": ["k"]}), "metadata must be a map"),
]


@pytest.mark.parametrize(("data", "match"), MALFORMED)
def test_malformed_safetensors(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match=f"model {re.escape(str(path))} is .*{match}") as caught:
        read_safetensors_file(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_valid_hand_made_file_with_gapless_zero_sized_tensor() -> None:
    empty = {"dtype": "F64", "shape": [0, 3], "data_offsets": [4, 4]}
    parsed = decode_safetensors(raw_safetensors({"w": ONE, "e": empty}, FOUR_BYTES))
    assert parsed.tensors["w"].tolist() == [1.0] and parsed.tensors["e"].shape == (0, 3)
    assert parsed.metadata == {}
