"""The model file's "config" metadata: parsed exactly with caps, checked against an allowlist.

Guarantees of :func:`read_config`: the JSON text is parsed without repeated keys, NaN or Infinity, every
non-integer number as an exact Fraction, and no number longer than MAX_NUMBER_CHARS or with a decimal
exponent beyond MAX_DECIMAL_EXPONENT (refused before any big-integer arithmetic, so ``1e999999999``
cannot hang the reader). Every key is in exactly one of three lists, or the file is refused:

* HONOURED_KEYS: read by the checker (sizes, architecture, attention scale, task). Each must agree with
  the tensors and SPEC section 1; they are hashed into the statement digest (:func:`honoured_config`).
* NEUTRAL_VALUES: keys that would change the computation in TransformerLens or our trainer
  (soft caps, local or windowed attention, rotary embeddings, ...), accepted only at the value that
  changes nothing, and then honoured (hashed) too.
* METADATA_KEYS: provenance that cannot change the function (seed, learning rate, ...); not hashed.
* ROTARY_KEYS: rotary-embedding settings, inert because positional_embedding_type must be "standard";
  accepted with any value, not hashed.

The lists cover every field of TransformerLens's HookedTransformerConfig (commit 4cd36aa, July 2026) for
an attention-only model, so ``HookedTransformerConfig.to_dict()`` is accepted as it is. That version sets
``d_mlp = 4 d_model`` even for attention-only models: d_mlp may be any positive integer (it is hashed)
when attn_only is true, since no MLP tensor is read or allowed.

:func:`attn_scale_squared` gives the exact s^2 of SPEC section 1, with an explicit scale bounded to
[MIN_ATTN_SCALE, MAX_ATTN_SCALE] so the exact table rounding works on small integers.
"""

from __future__ import annotations

import json
from fractions import Fraction

from certificates.errors import ModelFileError, short_repr
from certificates.safetensors import parse_strict_json

MAX_NUMBER_CHARS = 64
"""Longest number literal in the config (a float64 needs at most 24 characters)."""
MAX_DECIMAL_EXPONENT = 400
"""Largest decimal exponent of a config number (a float64 needs at most 324)."""
MIN_ATTN_SCALE, MAX_ATTN_SCALE = Fraction(1, 2**64), Fraction(2**64)
"""Range of an explicit attention scale: wide enough for any real model (sqrt(d_head) is below 2^10),
narrow enough that the exact table rounding works on integers of a few hundred bits."""
TL_DEFAULT_SCALE = -1
"""TransformerLens's "attn_scale" sentinel for the default sqrt(d_head)."""
TL_DEFAULT_V_OUT = -1
"""TransformerLens's "d_vocab_out" sentinel for d_vocab."""

DIMENSION_KEYS = {"d_vocab": "V", "n_ctx": "n", "d_model": "d", "d_head": "h"}
REQUIRED_VALUES: dict[str, object] = {
    "n_layers": 1,
    "n_heads": 1,
    "attn_only": True,
    "normalization_type": None,
    "positional_embedding_type": "standard",
    "task": "max",
}
HONOURED_KEYS = frozenset({
    *DIMENSION_KEYS, *REQUIRED_VALUES, "d_mlp", "d_vocab_out", "use_attn_scale", "attn_scale",
})
NEUTRAL_VALUES: dict[str, tuple[object, ...]] = {
    "attn_scores_soft_cap": (-1,),
    "output_logits_soft_cap": (-1, 0),
    "attn_types": (None,),
    "window_size": (None,),
    "use_local_attn": (False,),
    "attention_dir": ("causal",),
    "n_key_value_heads": (None, 1),
    "ungroup_grouped_query_attention": (False,),
    "parallel_attn_mlp": (False,),
    "scale_attn_by_inverse_layer_idx": (False,),
    "use_qk_norm": (False,),
    "final_rms": (False,),
    "gated_mlp": (False,),
    "post_embedding_ln": (False,),
    "relative_attention_max_distance": (None,),
    "relative_attention_num_buckets": (None,),
    "num_experts": (None,),
    "experts_per_token": (None,),
    "use_normalization_before_and_after": (False,),
    "decoder_start_token_id": (None,),
    "tie_word_embeddings": (False,),
    "uses_rms_norm": (False,),
    "layer_norm_folding": (False,),
    "norm_topk_prob": (False,),
}
"""Keys that change the computation unless they hold one of these values (numbers compare by value)."""
METADATA_KEYS = frozenset({
    # our trainer (prover/training.py)
    "seed", "steps", "batch_size", "lr", "weight_decay", "init_std", "trainer",
    # TransformerLens bookkeeping that does not change the function of these weights in exact arithmetic
    "model_name", "act_fn", "eps", "device", "n_devices", "dtype", "init_mode", "init_range", "init_weights",
    "initializer_range", "tokenizer_name", "tokenizer_prepends_bos", "default_prepend_bos", "n_params",
    "original_architecture", "from_checkpoint", "checkpoint_index", "checkpoint_label_type",
    "checkpoint_value", "use_attn_result", "use_split_qkv_input", "use_hook_mlp_in", "use_attn_in",
    "use_hook_tokens", "load_in_4bit", "d_mlp_hidden", "n_ctx_training", "tokenizer_padding_side",
    "trust_remote_code",
})
"""Keys allowed as provenance only: never read, never hashed."""
ROTARY_KEYS = frozenset({
    "rotary_dim", "rotary_base", "rotary_base_local", "rotary_scaling_factor", "rotary_adjacent_pairs",
    "use_NTK_by_parts_rope", "NTK_by_parts_low_freq_factor", "NTK_by_parts_high_freq_factor",
    "NTK_by_parts_factor", "NTK_original_ctx_len", "use_yarn_rope", "yarn_factor", "yarn_attention_factor",
    "yarn_beta_fast", "yarn_beta_slow", "yarn_original_max_position_embeddings",
})
"""Rotary-embedding settings, inert with the required standard positional embedding: never hashed."""


def read_config(text: str | None, sizes: dict[str, int]) -> dict:
    """The config metadata ``text`` (None: no config) as a dict, checked against the tensor ``sizes``
    (V, n, d, h) and the allowlists of the module docstring; ModelFileError with the reason otherwise."""
    if text is None:
        return {}
    try:
        config = parse_strict_json(text, parse_float=bounded_fraction, parse_int=bounded_int)
    except ValueError as error:
        raise ModelFileError(f"config metadata is not valid JSON: {error}") from None
    if type(config) is not dict:
        raise ModelFileError("config metadata is not a JSON object")
    for key, value in config.items():
        if key in NEUTRAL_VALUES and not any(_same_value(value, neutral) for neutral in NEUTRAL_VALUES[key]):
            raise ModelFileError(
                f"config {key} = {_shown(value)} changes the computation; the checker does not support it"
            )
        if key not in HONOURED_KEYS and key not in NEUTRAL_VALUES and key not in METADATA_KEYS | ROTARY_KEYS:
            raise ModelFileError(
                f"config key {short_repr(key)} is not supported: it is neither read by the checker nor known "
                "metadata, and could change the computation"
            )
    _check_honoured(config, sizes)
    return config


def honoured_config(config: dict) -> bytes:
    """Canonical bytes of the honoured and neutral keys of ``config`` (what the statement digest
    hashes): compact JSON with sorted keys, each Fraction written as the string "p/q"."""
    hashed = {key: value for key, value in config.items() if key in HONOURED_KEYS or key in NEUTRAL_VALUES}

    def canonical(value: object) -> object:
        if type(value) is Fraction:
            return f"{value.numerator}/{value.denominator}"
        return value

    return json.dumps({key: canonical(value) for key, value in hashed.items()}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True).encode()


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


def _check_honoured(config: dict, sizes: dict[str, int]) -> None:
    """Reject an honoured entry that contradicts the tensors or the supported architecture."""
    for key, symbol in DIMENSION_KEYS.items():
        if key in config and not _same(config[key], sizes[symbol]):
            raise ModelFileError(
                f"config {key} = {short_repr(config[key])}, but the tensors have {sizes[symbol]}"
            )
    for key, required in REQUIRED_VALUES.items():
        if key in config and not _same(config[key], required):
            raise ModelFileError(
                f"config {key} = {short_repr(config[key])}; only {json.dumps(required)} is supported"
            )
    d_mlp = config.get("d_mlp")
    if d_mlp is not None and not (type(d_mlp) is int and d_mlp > 0 and config.get("attn_only") is True):
        raise ModelFileError(
            f"config d_mlp = {short_repr(d_mlp)}; only null, or a positive integer with attn_only true, is supported"
        )
    V_out = config.get("d_vocab_out", TL_DEFAULT_V_OUT)
    if not (_same(V_out, TL_DEFAULT_V_OUT) or _same(V_out, sizes["V"])):
        raise ModelFileError(f"config d_vocab_out = {short_repr(V_out)} but V = {sizes['V']} (V_out != V)")
    if "use_attn_scale" in config and type(config["use_attn_scale"]) is not bool:
        raise ModelFileError(
            f"config use_attn_scale = {short_repr(config['use_attn_scale'])} is not a boolean"
        )
    attn_scale_squared(config, sizes["h"])


def _shown(value: object) -> str:
    """A config value for a message: a Fraction as "p/q" (or "p"), anything else by short_repr."""
    return str(value) if type(value) is Fraction else short_repr(value)


def _same(value: object, expected: object) -> bool:
    """Equal and of the same type (so True is not 1 and 4.0 is not 4)."""
    return type(value) is type(expected) and value == expected


def _same_value(value: object, expected: object) -> bool:
    """Equal as JSON values: numbers (int or Fraction, not bool) by value, anything else by :func:`_same`."""
    numbers = (int, Fraction)
    if type(value) in numbers and type(expected) in numbers:
        return value == expected
    return _same(value, expected)


def attn_scale_squared(config: dict, d_head: int) -> Fraction:
    """s^2 exactly: 1 if use_attn_scale is false, attn_scale^2 if given (TransformerLens's -1 means the
    default), else d_head. A given scale must be a number in [MIN_ATTN_SCALE, MAX_ATTN_SCALE]."""
    if config.get("use_attn_scale") is False:
        return Fraction(1)
    scale = config.get("attn_scale", TL_DEFAULT_SCALE)
    if type(scale) in (int, Fraction) and scale == TL_DEFAULT_SCALE:
        return Fraction(d_head)
    if type(scale) not in (int, Fraction) or scale <= 0:
        raise ModelFileError(f"config attn_scale = {short_repr(scale)} is not a positive number")
    if not MIN_ATTN_SCALE <= scale <= MAX_ATTN_SCALE:
        raise ModelFileError(f"config attn_scale = {short_repr(float(scale))} is outside [2^-64, 2^64]")
    return Fraction(scale) ** 2
