"""The Python API: the README's examples as written, state dicts read exactly as files, and no torch at import."""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

import compact_proofs as cp
from certificates.model_file import load_model
from prover.model import AttentionOnlyTransformer
from prover.writers import save_model
from tests.cli_runner import ROOT, blocking_env, run
from tests.model_factory import random_tensors

SHIPPED = ROOT / "models" / "max4-v64-d32-seed123.safetensors"
SHIPPED_CONFIG = {  # the honoured keys of the shipped file's config, so the digest is the file's
    "task": "max", "d_vocab": 64, "n_ctx": 4, "d_model": 32, "d_head": 32, "n_heads": 1, "n_layers": 1,
    "attn_only": True, "normalization_type": None,
}
TL_METADATA = {  # TransformerLens bookkeeping the checker accepts as metadata, with TransformerLens's types
    "model_name": "custom", "act_fn": None, "eps": 1e-5, "dtype": torch.float32, "device": torch.device("cpu"),
    "n_devices": 1, "seed": 123, "init_mode": "gpt2", "initializer_range": np.float64(0.8 / np.sqrt(32)),
    "n_params": np.int64(4096), "use_attn_result": False, "tokenizer_name": None, "default_prepend_bos": True,
}


def transformer_lens_config(d_vocab: int, n_ctx: int, d_model: int) -> dict:
    """What ``HookedTransformerConfig.to_dict()`` of TransformerLens (commit 4cd36aa, July 2026) returns for
    a one-layer, one-head, attention-only model without LayerNorm: every field, at the values its
    ``__post_init__`` leaves (``d_mlp = 4 d_model``, ``attn_scale = np.sqrt(d_head)``), with its types."""
    return {
        "n_layers": 1, "d_model": d_model, "n_ctx": n_ctx, "d_head": d_model, "model_name": "custom", "n_heads": 1,
        "d_mlp": 4 * d_model, "act_fn": "relu", "d_vocab": d_vocab, "eps": 1e-5, "use_attn_result": False,
        "use_attn_scale": True, "attn_scale": np.sqrt(d_model), "use_split_qkv_input": False,
        "use_hook_mlp_in": False, "use_attn_in": False, "use_qk_norm": False, "use_local_attn": False,
        "ungroup_grouped_query_attention": False, "original_architecture": None, "from_checkpoint": False,
        "checkpoint_index": None, "checkpoint_label_type": None, "checkpoint_value": None, "tokenizer_name": None,
        "window_size": None, "attn_types": None, "init_mode": "gpt2", "normalization_type": None,
        "device": torch.device("cpu"), "n_devices": 1, "attention_dir": "causal", "attn_only": True, "seed": None,
        "initializer_range": 0.8 / np.sqrt(d_model), "init_weights": True, "scale_attn_by_inverse_layer_idx": False,
        "positional_embedding_type": "standard", "final_rms": False, "d_vocab_out": d_vocab,
        "parallel_attn_mlp": False, "rotary_dim": None, "n_params": 4 * d_model * d_model, "use_hook_tokens": False,
        "gated_mlp": False, "default_prepend_bos": True, "dtype": torch.float32, "tokenizer_prepends_bos": None,
        "n_key_value_heads": None, "post_embedding_ln": False, "rotary_base": 10000, "rotary_base_local": None,
        "rotary_scaling_factor": 1.0, "trust_remote_code": False, "rotary_adjacent_pairs": False,
        "load_in_4bit": False, "num_experts": None, "experts_per_token": None,
        "relative_attention_max_distance": None, "relative_attention_num_buckets": None,
        "decoder_start_token_id": None, "tie_word_embeddings": False, "use_normalization_before_and_after": False,
        "attn_scores_soft_cap": -1.0, "output_logits_soft_cap": -1.0, "use_NTK_by_parts_rope": False,
        "NTK_by_parts_low_freq_factor": 1.0, "NTK_by_parts_high_freq_factor": 4.0, "NTK_by_parts_factor": 8.0,
        "NTK_original_ctx_len": 8192, "use_yarn_rope": False, "yarn_factor": 1.0, "yarn_attention_factor": 1.0,
        "yarn_beta_fast": 32.0, "yarn_beta_slow": 1.0, "yarn_original_max_position_embeddings": 4096,
        "norm_topk_prob": False, "uses_rms_norm": False, "layer_norm_folding": False,
    }


def python_examples() -> list[str]:
    """The ```python blocks of the README's "Python API" section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def tl_buffers(n_ctx: int) -> dict[str, torch.Tensor]:
    """The two buffers a HookedTransformer's state dict holds besides the weights."""
    return {
        "blocks.0.attn.mask": torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)),
        "blocks.0.attn.IGNORE": torch.tensor(-torch.inf),
    }


class FakeConfig:
    """Stands in for a HookedTransformerConfig: a ``to_dict()`` method."""

    def __init__(self, values: dict) -> None:
        self.values = values

    def to_dict(self) -> dict:
        return self.values


class FakeHookedTransformer:
    """Stands in for a HookedTransformer: ``state_dict()`` (weights and buffers as torch tensors) and ``cfg``."""

    def __init__(self, path: Path, config: dict) -> None:
        self.module = AttentionOnlyTransformer.from_weights(load_model(path))
        self.cfg = FakeConfig(config)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**self.module.state_dict(), **tl_buffers(self.module.n_ctx)}


@pytest.fixture(scope="module")
def shipped() -> cp.Model:
    return cp.load_model(SHIPPED)


@pytest.fixture(scope="module")
def cubic(shipped) -> cp.Certificate:
    return cp.prove(shipped, "cubic", "cpu")


def test_readme_has_both_examples():
    examples = python_examples()
    assert len(examples) == 2
    assert "cp.model_from_state_dict(ht.state_dict(), ht.cfg)" in examples[1]
    assert len(examples[1].strip().splitlines()) == 2


def test_readme_file_example(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(python_examples()[0], namespace)
    verdict = namespace["verdict"]
    assert verdict.status == cp.VALID and 0 < verdict.bound <= 1 and verdict.flops > 0
    assert capsys.readouterr().out.split() == ["VALID", str(verdict.bound), str(verdict.flops)]


def test_readme_state_dict_example_is_the_shipped_model(shipped, cubic):
    namespace: dict = {"ht": FakeHookedTransformer(SHIPPED, {**SHIPPED_CONFIG, **TL_METADATA})}
    exec(python_examples()[1], namespace)
    model = namespace["model"]
    assert model.digest == shipped.digest and model.name == "<state dict>"
    on_file, in_memory = cp.check(cubic, shipped), cp.check(cubic, model)
    assert on_file.status == in_memory.status == cp.VALID
    assert (in_memory.certified_count, in_memory.flops) == (on_file.certified_count, on_file.flops)


def test_a_whole_transformer_lens_config_is_accepted(shipped, cubic):
    """Every field of today's HookedTransformerConfig, as ``to_dict()`` gives it: the two lines of the README
    work on a real HookedTransformer's config, not only on the keys the checker reads. Its ``attn_scale``
    is the float np.sqrt(32), which the checker takes as that exact decimal (SPEC 1), so the certificate of
    the file (default scale sqrt(32)) is for another function: ERROR, naming both digests."""
    config = transformer_lens_config(64, 4, 32)
    assert len(config) == 79
    model = cp.model_from_state_dict(FakeHookedTransformer(SHIPPED, config).state_dict(), FakeConfig(config))
    assert model.weights.attn_scale_squared == Fraction(str(np.sqrt(32))) ** 2 != 32
    assert cp.check(cubic, model).status == cp.ERROR
    verdict = cp.check(cp.prove(model, "cubic", "cpu"), model)
    assert verdict.status == cp.VALID and verdict.certified_count == cp.check(cubic, shipped).certified_count


def test_a_transformer_lens_config_with_a_computation_changing_value_is_refused():
    for key, value in (("attention_dir", "bidirectional"), ("d_mlp", 0), ("attn_only", False)):
        config = {**transformer_lens_config(64, 4, 32), key: value}
        with pytest.raises(cp.InputError, match=key):
            cp.model_from_state_dict(FakeHookedTransformer(SHIPPED, SHIPPED_CONFIG).state_dict(), config)


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "to_dict"])
def test_state_dict_reads_as_the_file_of_the_same_tensors(tmp_path, as_object):
    tensors = random_tensors(5, vocab=5, n_ctx=3, d_model=4, d_head=4)
    buffers = {name: value.numpy() for name, value in tl_buffers(3).items()}
    config = {
        "task": "max", "n_layers": 1, "n_heads": 1, "d_model": 4, "d_head": 4, "d_vocab": 5, "d_vocab_out": 5,
        "n_ctx": 3, "attn_only": True, "normalization_type": None, "d_mlp": None, "use_attn_scale": True,
        "positional_embedding_type": "standard", "attn_scores_soft_cap": -1.0, "use_local_attn": False,
        "rotary_dim": None, "model_name": "custom", "seed": 5,
    }
    path = tmp_path / "model.safetensors"
    save_model(path, {**tensors, **buffers}, {**config, "dtype": "torch.float32"})
    from_file = cp.load_model(path)
    state_dict = {name: torch.from_numpy(value) for name, value in tensors.items()} | tl_buffers(3)
    given = {**config, "dtype": torch.float32}
    from_memory = cp.model_from_state_dict(state_dict, FakeConfig(given) if as_object else given)
    assert from_memory.digest == from_file.digest
    assert from_memory.weights.config == from_file.weights.config
    assert from_memory.weights.attn_scale_squared == from_file.weights.attn_scale_squared
    for name in ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "b_Q", "b_K", "b_V", "b_O", "b_U"):
        np.testing.assert_array_equal(getattr(from_memory.weights, name), getattr(from_file.weights, name))


@pytest.mark.parametrize("convert", [np.asarray, torch.from_numpy], ids=["numpy", "torch"])
def test_float64_read_tensor_is_refused(convert):
    tensors = random_tensors(6)
    tensors["unembed.W_U"] = tensors["unembed.W_U"].astype(np.float64)
    with pytest.raises(ValueError, match=r"unembed\.W_U has dtype float64; the checker reads float32 only"):
        cp.model_from_state_dict({name: convert(value) for name, value in tensors.items()}, {"task": "max"})


def test_bfloat16_read_tensor_is_refused_and_buffers_of_any_dtype_are_ignored():
    state_dict = {name: torch.from_numpy(value) for name, value in random_tensors(7).items()}
    ignored = {"blocks.0.attn.mask": torch.ones(3, 3, dtype=torch.bfloat16), "blocks.0.attn.IGNORE": torch.tensor(1j)}
    assert cp.model_from_state_dict(state_dict | ignored, {"task": "max"}).digest == (
        cp.model_from_state_dict(state_dict, {"task": "max"}).digest
    )
    state_dict["embed.W_E"] = state_dict["embed.W_E"].to(torch.bfloat16)
    with pytest.raises(ValueError, match=r"embed\.W_E has dtype torch\.bfloat16"):
        cp.model_from_state_dict(state_dict, {"task": "max"})


def test_unknown_config_key_gives_the_readers_line():
    with pytest.raises(cp.InputError, match="config key 'mystery_switch' is not supported") as raised:
        cp.model_from_state_dict(random_tensors(8), {"task": "max", "mystery_switch": "on"})
    assert "\n" not in str(raised.value)
    with pytest.raises(TypeError, match="config must be a mapping"):
        cp.model_from_state_dict(random_tensors(8), ["task", "max"])


def test_check_reads_an_object_its_bytes_and_its_file_alike(tmp_path, shipped, cubic):
    path = tmp_path / cp.certificate_filename(cubic.strategy_name)
    cp.save_certificate(path, cubic)
    verdicts = [cp.check(cubic, shipped), cp.check(path.read_bytes(), shipped), cp.check(path, shipped)]
    assert {(v.status, v.bound, v.certified_count, v.flops) for v in verdicts} == {
        (cp.VALID, verdicts[0].bound, verdicts[0].certified_count, verdicts[0].flops)
    }
    read = cp.read_certificate(path, shipped)
    assert (read.statement, read.strategy_name, read.claim_correct) == (
        cubic.statement, cubic.strategy_name, cubic.claim_correct
    )
    overclaim = cp.check(replace(cubic, claim_correct=cubic.claim_correct + 1), shipped)
    assert overclaim.status == cp.INVALID and overclaim.bound is None
    other = cp.model_from_state_dict(random_tensors(9, vocab=64, n_ctx=4, d_model=32, d_head=32), {"task": "max"})
    mismatch = cp.check(cubic, other)
    assert mismatch.status == cp.ERROR and cubic.statement.model_digest in mismatch.message


def test_prove_many_resolves_names_and_families():
    model = cp.model_from_state_dict(random_tensors(10), {"task": "max"})
    certificates = cp.prove_many(model, ["cubic", "brute-force", "cubic"], device="cpu")
    assert [c.strategy_name for c in certificates] == ["cubic", "brute-force"]
    assert all(cp.check(c, model).status == cp.VALID for c in certificates)
    assert len(cp.resolve_strategies("subcubic")) == 100
    assert [s.name for s in cp.resolve_strategies("all")] == [s.name for s in cp.strategies()]
    with pytest.raises(cp.RequestError, match="unknown strategy 'telepathy'"):
        cp.prove(model, "telepathy")
    with pytest.raises(cp.RequestError, match="unknown strategy 'subcubic'"):
        cp.prove(model, "subcubic")  # a family is not one strategy


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_device_is_a_request_error():
    with pytest.raises(cp.RequestError, match="CUDA is not available"):
        cp.resolve_device("cuda")
    with pytest.raises(cp.RequestError, match="unknown device"):
        cp.resolve_device("abacus")


def test_loading_and_checking_do_not_import_torch(tmp_path, cubic):
    certificate = tmp_path / "cubic.cert"
    cp.save_certificate(certificate, cubic)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    script = (
        "import sys\n"
        "import compact_proofs as cp\n"
        f"model = cp.load_model({str(SHIPPED)!r})\n"
        f"certificate = cp.read_certificate({str(certificate)!r}, model)\n"
        f"print(cp.check(certificate, model).status, cp.check({str(certificate)!r}, model).status)\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = run("-c", script, env=blocking_env(blocker, "torch"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["VALID", "VALID"]
