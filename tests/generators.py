"""Hypothesis strategies for adversarial small models (V <= 8, n = 2..4), for the trust suite.

A strategy draws a :class:`ModelSpec` (plain numbers, so hypothesis shrinks and prints it well);
:func:`build_model` turns it into a model file, deterministically. Kinds:

* ``random``: Gaussian weights at several scales, with or without biases;
* ``trained``: tiny Max-of-n models trained for a few hundred steps (:func:`prover.training.train_model`);
* ``planted``: a random or trained model whose ``W_U[:, m]`` and ``b_U[m]`` are retuned so that one drawn
  sequence (max m) is right or wrong by a relative margin from 2^-30 down to 2^-56, a few float64 ulps (in
  the spirit of SoundnessBench: failures a sloppy verifier would certify);
* ``tied``: logits that tie exactly in real arithmetic (duplicated unembedding columns, duplicated
  embedding rows, zero value path, zero unembedding, zero positions, and combinations);
* ``extreme``: finite weights scaled by powers of two up to 2^+-100, or pushed into the float32 subnormals.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import mpmath
import numpy as np
from hypothesis import strategies as st

from certificates.model_file import ModelWeights
from prover.training import train_model
from tests.exact_reference import PRECISIONS, sequence_forward
from tests.model_factory import random_tensors, write_model
from tests.trust import by_profile

TRAINED_SHAPES = ((5, 2, 8), (6, 3, 8), (8, 3, 8), (5, 4, 8))
"""(V, n, d_model) of the trained models: a few shapes, so the training cache is hit."""
SMALL_TRAINED_SHAPES = ((5, 2, 8), (6, 3, 8))
TRAINING_STEPS = 200
TIE_VARIANTS = ("unembed-columns", "embed-rows", "zero-values", "zero-values+unembed-columns",
                "zero-unembed", "zero-positions+embed-rows")
EXTREME_VARIANTS = ("huge", "tiny", "mixed", "subnormal")
PLANTED_EXPONENTS = (30, 40, 46, 50, 53, 56)
"""A planted margin is 2^-e of the largest magnitude among the sequence's other logits: from comfortable
(2^-30) to a few float64 ulps (2^-56), where only a correct rounding-error analysis tells right from wrong."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything :func:`build_model` needs. ``variant`` names the tie or extreme construction;
    ``planted`` is the flat index (x_0 most significant) of the planted sequence, ``planted_sign`` the sign
    of its margin and ``planted_exponent`` its size (:data:`PLANTED_EXPONENTS`)."""

    kind: str
    seed: int
    vocab: int
    n_ctx: int
    d_model: int
    scale: float = 1.0
    biases: bool = True
    variant: str = ""
    base: str = "random"
    planted: int = 0
    planted_sign: int = 0
    planted_exponent: int = 40


@dataclass(frozen=True)
class GeneratedModel:
    """A built model: its file, the weights as the checker reads them, and its spec."""

    path: Path
    weights: ModelWeights
    spec: ModelSpec


# ----------------------------------------------------------------------------- strategies
@st.composite
def _sizes(draw: st.DrawFn, max_vocab: int = 8, max_n_ctx: int = 4) -> tuple[int, int, int]:
    n_ctx = draw(st.integers(2, max_n_ctx))
    vocab = draw(st.integers(2, max_vocab))
    return vocab, n_ctx, draw(st.integers(1, 8))


@st.composite
def random_models(draw: st.DrawFn, max_vocab: int = 8, max_n_ctx: int = 4) -> ModelSpec:
    """Gaussian weights at scales from 0.1 to 8, biases or not."""
    vocab, n_ctx, d_model = draw(_sizes(max_vocab, max_n_ctx))
    return ModelSpec(
        kind="random", seed=draw(st.integers(0, 2**31)), vocab=vocab, n_ctx=n_ctx, d_model=d_model,
        scale=draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 4.0, 8.0])), biases=draw(st.booleans()),
    )


@st.composite
def trained_models(draw: st.DrawFn, shapes: tuple[tuple[int, int, int], ...] = TRAINED_SHAPES) -> ModelSpec:
    """Tiny trained Max-of-n models (few seeds and shapes, so the training cache is hit)."""
    vocab, n_ctx, d_model = draw(st.sampled_from(shapes))
    seed = draw(st.integers(0, by_profile(ci=2, long=8) - 1))
    return ModelSpec(kind="trained", seed=seed, vocab=vocab, n_ctx=n_ctx, d_model=d_model)


@st.composite
def planted_models(draw: st.DrawFn, max_vocab: int = 8, max_n_ctx: int = 4,
                   shapes: tuple[tuple[int, int, int], ...] = TRAINED_SHAPES) -> ModelSpec:
    """A random or trained model with one sequence right or wrong by a tiny relative margin."""
    base = draw(st.one_of(random_models(max_vocab, max_n_ctx), trained_models(shapes)))
    return replace(
        base, kind="planted", base=base.kind, d_model=max(2, base.d_model),
        planted=draw(st.integers(0, base.vocab**base.n_ctx - 1)), planted_sign=draw(st.sampled_from([-1, 1])),
        planted_exponent=draw(st.sampled_from(PLANTED_EXPONENTS)),
    )


@st.composite
def tied_models(draw: st.DrawFn, max_vocab: int = 8, max_n_ctx: int = 4) -> ModelSpec:
    """Random models whose logits tie exactly in real arithmetic for some (or all) sequences."""
    base = draw(random_models(max_vocab, max_n_ctx))
    return replace(base, kind="tied", variant=draw(st.sampled_from(TIE_VARIANTS)))


@st.composite
def extreme_models(draw: st.DrawFn) -> ModelSpec:
    """Small random models scaled by powers of two up to 2^+-100, or into the float32 subnormals."""
    vocab, n_ctx, d_model = draw(_sizes(max_vocab=4, max_n_ctx=3))
    return ModelSpec(
        kind="extreme", seed=draw(st.integers(0, 2**31)), vocab=vocab, n_ctx=n_ctx, d_model=min(d_model, 4),
        biases=draw(st.booleans()), variant=draw(st.sampled_from(EXTREME_VARIANTS)),
    )


def small_models() -> st.SearchStrategy[ModelSpec]:
    """Random, exactly tied, planted (V <= 5, n <= 3) and trained models of at most 216 sequences, few enough
    to enumerate every sequence in exact arithmetic (:func:`tests.exact_arithmetic.sequence_truths`)."""
    sizes = {"max_vocab": 5, "max_n_ctx": 3}
    return st.one_of(random_models(**sizes), tied_models(**sizes), trained_models(shapes=SMALL_TRAINED_SHAPES),
                     planted_models(**sizes, shapes=SMALL_TRAINED_SHAPES))


TRAINED_EXAMPLE = ModelSpec(kind="trained", seed=0, vocab=6, n_ctx=3, d_model=8)
"""A small trained model, where most cases are good: the regime the case bounds are built for."""


def random_ordering(rng: np.random.Generator, rows: int, length: int) -> np.ndarray:
    """A random permutation of ``0..length-1`` per row ([rows, length] <i4): an ordering hint (SPEC 5.2)."""
    return np.array([rng.permutation(length) for _ in range(rows)], dtype="<i4").reshape(rows, length)


def ordering_hint(positional_scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An ordering hint for the rows of ``positional_scores`` [V, n-1]: the sorting one (what the provers
    send) or, half the time, a random one (any permutation is sound)."""
    if rng.random() < 0.5:
        return np.argsort(positional_scores, axis=1).astype("<i4")
    return random_ordering(rng, *positional_scores.shape)


def models() -> st.SearchStrategy[ModelSpec]:
    """Every kind of model above, and random or tied ones with long contexts (n up to 6) on V <= 3."""
    long_contexts = {"max_vocab": 3, "max_n_ctx": 6}
    return st.one_of(random_models(), trained_models(), planted_models(), tied_models(), extreme_models(),
                     random_models(**long_contexts), tied_models(**long_contexts))


# ----------------------------------------------------------------------------- construction
def build_model(spec: ModelSpec, directory: Path) -> GeneratedModel:
    """Write the model ``spec`` describes to ``directory`` and read it back with the checker's reader."""
    path = directory / "model.safetensors"
    tensors = base_tensors(spec)
    if spec.kind == "tied":
        tensors = tie(tensors, spec.variant)
    elif spec.kind == "extreme":
        tensors = extreme(tensors, spec.variant, spec.seed)
    weights = write_model(path, tensors)
    if spec.kind == "planted":
        weights = write_model(path, plant(tensors, weights, spec))
    return GeneratedModel(path=path, weights=weights, spec=spec)


def base_tensors(spec: ModelSpec) -> dict[str, np.ndarray]:
    """The untouched weights of ``spec``: trained (cached) or Gaussian."""
    if spec.kind == "trained" or spec.base == "trained":
        return {name: value.copy() for name, value in
                trained_tensors(spec.seed, spec.vocab, spec.n_ctx, spec.d_model).items()}
    return random_tensors(spec.seed, vocab=spec.vocab, n_ctx=spec.n_ctx, d_model=spec.d_model,
                          d_head=spec.d_model, scale=spec.scale, biases=spec.biases)


@functools.cache
def trained_tensors(seed: int, vocab: int, n_ctx: int, d_model: int) -> dict[str, np.ndarray]:
    """A Max-of-n model trained for TRAINING_STEPS steps (cached; read-only arrays)."""
    tensors = train_model(seed, k=n_ctx, d_vocab=vocab, d_model=d_model, steps=TRAINING_STEPS,
                          progress=False).to_tensors()
    for value in tensors.values():
        value.flags.writeable = False
    return tensors


def tie(tensors: dict[str, np.ndarray], variant: str) -> dict[str, np.ndarray]:
    """Exact real-arithmetic ties: every ``+``-separated construction of ``variant`` applied in turn.

    ``unembed-columns``: tokens V-1 and V-2 get the same unembedding column and bias, so their logits
    are equal on every input; ``embed-rows``: tokens V-1 and V-2 get the same embedding, so the model
    cannot tell them apart; ``zero-values``: W_V = b_V = 0 (the logits depend on the query token only);
    ``zero-unembed``: W_U = b_U = 0 (every logit is 0, every sequence tied); ``zero-positions``: W_pos = 0.
    """
    tensors = {name: value.copy() for name, value in tensors.items()}
    for part in variant.split("+"):
        if part == "unembed-columns":
            tensors["unembed.W_U"][:, -1] = tensors["unembed.W_U"][:, -2]
            if "unembed.b_U" in tensors:
                tensors["unembed.b_U"][-1] = tensors["unembed.b_U"][-2]
        elif part == "embed-rows":
            tensors["embed.W_E"][-1] = tensors["embed.W_E"][-2]
        elif part == "zero-values":
            tensors["blocks.0.attn.W_V"][:] = 0
            tensors.pop("blocks.0.attn.b_V", None)
        elif part == "zero-unembed":
            tensors["unembed.W_U"][:] = 0
            tensors.pop("unembed.b_U", None)
        elif part == "zero-positions":
            tensors["pos_embed.W_pos"][:] = 0
        else:
            raise ValueError(f"unknown tie variant {part!r}")
    return tensors


def extreme(tensors: dict[str, np.ndarray], variant: str, seed: int) -> dict[str, np.ndarray]:
    """Finite float32 weights at extreme scales: ``huge`` (every tensor times 2^30..2^100: products of four
    weights reach 2^400), ``tiny`` (2^-100..2^-30), ``mixed`` (each tensor its own power in -60..60) or
    ``subnormal`` (some tensors pushed below 2^-126, where float32 has fewer significant bits)."""
    rng = np.random.default_rng(seed)
    names = sorted(tensors)
    if variant == "huge":
        exponents = dict.fromkeys(names, int(rng.integers(30, 101)))
    elif variant == "tiny":
        exponents = dict.fromkeys(names, -int(rng.integers(30, 101)))
    elif variant == "mixed":
        exponents = {name: int(rng.integers(-60, 61)) for name in names}
    elif variant == "subnormal":
        exponents = {name: (-135 if rng.random() < 0.5 else 0) for name in names}
    else:
        raise ValueError(f"unknown extreme variant {variant!r}")
    return {name: np.ldexp(value.astype(np.float64), exponents[name]).astype(np.float32)
            for name, value in tensors.items()}


def plant(tensors: dict[str, np.ndarray], weights: ModelWeights, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Retune ``W_U[j1, m]``, ``W_U[j2, m]`` and ``b_U[m]`` (m the max of the planted sequence) so that the
    sequence's margin ``logit_m - max_{y != m} logit_y`` is ``sign * 2^-planted_exponent * scale`` to within
    about 2^-70 scale (scale = the largest magnitude of the other logits, which the retuning leaves alone).

    ``logit_m = rest + r1 W_U[j1, m] + r2 W_U[j2, m] + b_U[m]`` exactly (r the final residual, j1 and j2 its
    two largest components), and the attention does not depend on these entries. Each of the three
    float32 entries absorbs what the previous one left over, to float32 precision: the remainders shrink
    by about 2^-24 at each step. Every quantity is evaluated in 200-bit arithmetic. Needs d_model >= 2.
    """
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    sequence = tuple(int(t) for t in np.unravel_index(spec.planted, (vocab,) * n_ctx))
    label = max(sequence)
    w_u = tensors["unembed.W_U"].copy()
    b_u = tensors.get("unembed.b_U", np.zeros(vocab, np.float32)).copy()
    with mpmath.workprec(PRECISIONS[0]):
        final, logits = sequence_forward(weights, sequence)
        columns = [int(j) for j in np.argsort([-abs(value) for value in final])[:2]]
        if len(columns) < 2 or final[columns[1]] == 0:
            raise ValueError("planting needs two nonzero components of the final residual")
        scale = max(abs(logits[y]) for y in range(vocab) if y != label) or mpmath.mpf(1)
        remainder = max(logits[y] for y in range(vocab) if y != label) + spec.planted_sign * mpmath.ldexp(
            scale, -spec.planted_exponent)
        # what the three entries must add up to, then each absorbs what the previous one left over
        remainder -= logits[label] - float(b_u[label]) - sum(final[j] * float(w_u[j, label]) for j in columns)
        for column in columns:
            w_u[column, label] = np.float32(float(remainder / final[column]))
            remainder -= final[column] * float(w_u[column, label])
        b_u[label] = np.float32(float(remainder))
    return {**tensors, "unembed.W_U": w_u, "unembed.b_U": b_u}


def planted_margin(model: GeneratedModel) -> float:
    """The planted sequence's margin relative to the largest magnitude of its other logits (the ``scale`` of
    :func:`plant`), from 200-bit arithmetic."""
    spec = model.spec
    sequence = tuple(int(t) for t in np.unravel_index(spec.planted, (spec.vocab,) * spec.n_ctx))
    label = max(sequence)
    with mpmath.workprec(PRECISIONS[0]):
        _, logits = sequence_forward(model.weights, sequence)
        others = [logits[y] for y in range(spec.vocab) if y != label]
        return float((logits[label] - max(others)) / (max(abs(value) for value in others) or 1))
