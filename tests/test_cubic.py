"""Cubic strategies (SPEC 5.2, ``cubic`` and ``cubic-ov-chord``): soundness of certificates against an
independent forward pass, exact counting, prover-checker agreement and adversarial certificates. The steps'
containment tests against exact references are in ``tests/test_cubic_bounds.py`` and, for the shared
attention helpers, ``tests/test_attention.py``.

The reference in this file is independent of the prover and of the checker: a float64 forward pass of
SPEC 1 written from the raw weights, with every sequence whose margin is within ``AMBIGUOUS`` of zero
re-decided by mpmath at 200 bits (the margin safety check).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import replace
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from certificates.codec import Certificate, TraceStep
from certificates.model_file import ModelWeights, load_model
from checker.kernel import Interval
from checker.strategies.cubic import cubic_coefficient
from checker.strategies.cubic_bounds import case_attention, case_bounds, covered_count, logit_paths, valid_cases
from checker.strategies.cubic_ov_chord import chord_coefficient
from checker.tables import Tables
from checker.verify import verify
from prover import strategies
from prover.certify import prove
from prover.strategies.cubic import CaseGrid
from prover.strategies.cubic_ov_chord import chord_coefficient as prover_chord_coefficient
from prover.tables import torch_tables
from prover.training import train_model
from prover.writers import save_model, write_certificate
from tests.coverage import covered_sequences, cubic_covered
from tests.model_factory import random_tensors

STRATEGIES = ("cubic", "cubic-ov-chord")
MODELS = sorted((Path(__file__).resolve().parent.parent / "models").glob("max4-*.safetensors"))
EXAMPLE = [path for path in MODELS if path.stem.endswith("seed123")]
SHIPPED = MODELS if os.environ.get("HYPOTHESIS_PROFILE") == "long" else EXAMPLE
"""The shipped models checked here: the paper's example (seed 123), or all of them in the "long" profile."""
AMBIGUOUS = 1e-9
FEW = max(4, settings.default.max_examples // 10)
SOME = max(8, settings.default.max_examples // 4)


# ----------------------------------------------------------------------------- independent reference
def worst_differences(weights: ModelWeights) -> np.ndarray:
    """float64 ``max_{y != max(x)} (logit_y - logit_max(x))`` for every sequence, shape [V]*n (x_0 first).

    SPEC 1 from the raw weights. The key, value and score of a (token, position) pair depend on nothing
    else, so they are tabulated. Small models are then evaluated sequence by sequence (each softmax
    shifted by its own max score). Large ones use outer sums over the non-query positions per query,
    shifted by the query's max score over all pairs; that keeps full precision only while no weight
    nears the subnormal range, which is asserted (score spread < 600).
    """
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    f = {name: torch.tensor(np.asarray(getattr(weights, name)), dtype=torch.float64) for name in (
        "W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "b_Q", "b_K", "b_V", "b_O", "b_U")}
    resid = f["W_E"][:, None, :] + f["W_pos"][None, :, :]  # [t, p, d]
    queries = (resid[:, -1] @ f["W_Q"] + f["b_Q"]) / math.sqrt(weights.attn_scale_squared)  # [q, h]
    scores = torch.einsum("qh,tph->qtp", queries, resid @ f["W_K"] + f["b_K"])  # [q, t, p]
    values = ((resid @ f["W_V"] + f["b_V"]) @ f["W_O"]) @ f["W_U"]  # [t, p, y]
    direct = resid[:, -1] @ f["W_U"] + f["b_U"] + f["b_O"] @ f["W_U"]  # [q, y]
    if vocab**n_ctx <= 1 << 16:
        tokens = torch.from_numpy(np.indices((vocab,) * n_ctx).reshape(n_ctx, -1).T)
        positions = torch.arange(n_ctx)
        attention = torch.softmax(scores[tokens[:, -1:], tokens, positions], dim=1)
        logits = direct[tokens[:, -1]] + torch.einsum("sp,spy->sy", attention, values[tokens, positions])
        return worst_of(logits, tokens.max(dim=1).values[:, None]).numpy().reshape((vocab,) * n_ctx)
    tokens, free = torch.arange(vocab), n_ctx - 1
    result = torch.empty((vocab,) * n_ctx, dtype=torch.float64)
    logits = torch.empty((vocab,) * n_ctx, dtype=torch.float64)  # [x_0 .. x_{n-2}, y], reused (in place)
    for query in range(vocab):
        assert scores[query].max() - scores[query].min() < 600
        weight = torch.exp(scores[query] - scores[query].max())  # [t, p]
        logits.copy_((weight[query, -1] * values[query, -1]).expand_as(logits))
        denominator, label = weight[query, -1], torch.tensor(query)
        for position in range(free):
            shape = [1] * free
            shape[position] = vocab
            logits.add_((weight[:, position, None] * values[:, position]).reshape(*shape, vocab))
            denominator = denominator + weight[:, position].reshape(shape)
            label = torch.maximum(label, tokens.reshape(shape))
        logits.div_(denominator[..., None]).add_(direct[query])
        result[..., query] = worst_of(logits, label.expand((vocab,) * free)[..., None])
    return result.numpy()


def worst_of(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """``max_{y != label} logits[..., y] - logits[..., label]`` (overwrites ``logits``)."""
    right = logits.gather(-1, label)[..., 0]
    return logits.scatter_(-1, label, -torch.inf).amax(dim=-1) - right


def exact_worst_difference(weights: ModelWeights, sequence: tuple[int, ...]) -> mpmath.mpf:
    """The same quantity for one sequence with mpmath at 200 bits (the float32 weights are exact)."""
    with mpmath.workprec(200):
        m = {name: mpmath.matrix(np.atleast_2d(np.asarray(getattr(weights, name), dtype=np.float64)).tolist())
             for name in ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "b_Q", "b_K", "b_V", "b_O", "b_U")}
        scale = mpmath.sqrt(mpmath.mpf(weights.attn_scale_squared.numerator) / weights.attn_scale_squared.denominator)
        resid = [m["W_E"][x, :] + m["W_pos"][p, :] for p, x in enumerate(sequence)]
        query = resid[-1] * m["W_Q"] + m["b_Q"]
        scores = [(query * (r * m["W_K"] + m["b_K"]).T)[0, 0] / scale for r in resid]
        exps = [mpmath.exp(s - max(scores)) for s in scores]
        mixed = sum((e * (r * m["W_V"] + m["b_V"]) for e, r in zip(exps, resid, strict=True)),
                    mpmath.zeros(1, m["W_V"].cols)) / sum(exps)
        logits = resid[-1] * m["W_U"] + (mixed * m["W_O"] + m["b_O"]) * m["W_U"] + m["b_U"]
        label = max(sequence)
        return max(logits[0, y] - logits[0, label] for y in range(weights.d_vocab) if y != label)


# ----------------------------------------------------------------------------- models
near_ties = st.sampled_from(["none", "token-embedding", "positions", "zero-positions", "unembedding"])


def tie(tensors: dict[str, np.ndarray], kind: str, nudge: bool) -> dict[str, np.ndarray]:
    """Copy one row or column onto another (exact ties), optionally one float32 step apart (near ties)."""
    tensors = {name: value.copy() for name, value in tensors.items()}
    targets = {
        "token-embedding": ("embed.W_E", 0), "positions": ("pos_embed.W_pos", 0), "unembedding": ("unembed.W_U", 1),
    }
    if kind == "zero-positions":
        tensors["pos_embed.W_pos"][:] = 0
    elif kind in targets:
        name, axis = targets[kind]
        matrix = np.moveaxis(tensors[name], axis, 0)
        matrix[-1] = matrix[-2]
        if nudge:
            matrix[-1, 0] = np.nextafter(matrix[-1, 0], np.float32(np.inf))
    return tensors


@functools.cache
def trained_tensors(seed: int, vocab: int, n_ctx: int, d_model: int) -> dict[str, np.ndarray]:
    """A small Max-of-n model trained for 300 steps (cached: the same arguments give the same bits)."""
    model = train_model(seed, k=n_ctx, d_vocab=vocab, d_model=d_model, steps=300, progress=False)
    return model.to_tensors()


TRAINED_SHAPES = [(6, 3, 8), (8, 3, 6), (5, 4, 8), (10, 2, 4)]
"""(V, n, d) of the trained test models (few shapes, so the training cache is hit)."""

small_models = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31), "vocab": st.integers(3, 10), "n_ctx": st.integers(2, 4),
    "d_model": st.integers(2, 8), "scale": st.sampled_from([0.3, 1.0, 3.0]), "biases": st.booleans(),
    "tie": near_ties, "nudge": st.booleans(),
})


def build(directory: Path, spec: dict, trained: bool = False) -> tuple[Path, ModelWeights]:
    """Write the model ``spec`` describes (random or trained weights, then a near tie) and read it back."""
    vocab, n_ctx, d_model = spec["vocab"], spec["n_ctx"], spec["d_model"]
    if trained:
        tensors = trained_tensors(spec["seed"] % 2, vocab, n_ctx, d_model)
    else:
        tensors = random_tensors(
            spec["seed"], vocab=vocab, n_ctx=n_ctx, d_model=d_model, d_head=d_model,
            scale=spec["scale"], biases=spec["biases"],
        )
    path = directory / "model.safetensors"
    save_model(path, tie(tensors, spec["tie"], spec["nudge"]), config={"task": "max"})
    return path, load_model(path)


def prove_and_check(directory: Path, model_path: Path, weights: ModelWeights, strategy: str):
    """Prove with ``strategy``, write the certificate, check it; return (certificate, path, verdict)."""
    certificate, _ = prove(weights, strategies.lookup(strategy), torch.device("cpu"))
    path = directory / f"{strategy}.cert"
    write_certificate(path, certificate)
    return certificate, path, verify(path, model_path)


@functools.lru_cache(maxsize=4)
def cached_worst_differences(model_path: Path, digest: str) -> np.ndarray:
    """:func:`worst_differences` of a model file, computed once per file content."""
    return worst_differences(load_model(model_path))


def assert_covered_are_correct(model_path: Path, weights: ModelWeights, covered: np.ndarray) -> None:
    """Every covered sequence is correct; ambiguous float64 margins are re-decided exactly."""
    differences = cached_worst_differences(model_path, weights.digest)
    assert not (covered & (differences > AMBIGUOUS)).any(), "covered a sequence that is wrong"
    for sequence in zip(*np.nonzero(covered & (np.abs(differences) <= AMBIGUOUS)), strict=True):
        assert exact_worst_difference(weights, tuple(int(x) for x in sequence)) < 0


# ----------------------------------------------------------------------------- counting
@pytest.mark.parametrize("vocab", [1, 2, 3, 5])
@pytest.mark.parametrize("n_ctx", [1, 2, 3, 4, 5])
def test_every_case_good_covers_every_sequence(vocab, n_ctx):
    good = valid_cases(vocab, n_ctx)
    assert covered_count(good) == vocab**n_ctx
    assert cubic_covered(good).all()


@given(vocab=st.integers(2, 6), n_ctx=st.integers(2, 4), seed=st.integers(0, 2**31), density=st.floats(0, 1))
def test_count_formula_matches_enumeration(vocab, n_ctx, seed, density):
    good = valid_cases(vocab, n_ctx) & (np.random.default_rng(seed).random((vocab,) * 3 + (n_ctx,)) < density)
    assert covered_count(good) == int(cubic_covered(good).sum())


# ----------------------------------------------------------------------------- prover against checker
@pytest.mark.parametrize("chord", [False, True], ids=["cubic", "chord"])
@settings(max_examples=FEW)
@given(spec=small_models, shape=st.sampled_from(TRAINED_SHAPES))
def test_prover_case_bounds_agree_with_checker_enclosures(tmp_path_factory, spec, shape, chord):
    """The prover's float64 case bounds lie inside the checker's enclosures, and those are narrow.

    Soundness alone cannot see a one-sided edit of either formula (a looser prover bound still verifies;
    a tighter wrong one is silently dropped by the prover's self-check). Here every valid case must
    agree: ``lo - tol <= prover <= hi + tol`` and ``hi - lo <= tol``, with ``tol`` 1e-9 of the logit scale.
    """
    spec = {**spec, "vocab": shape[0], "n_ctx": shape[1], "d_model": shape[2]}
    _, weights = build(tmp_path_factory.mktemp("m"), spec, trained=True)
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    grid = CaseGrid.build(torch_tables(weights, torch.device("cpu")))
    order = grid.order.numpy().astype("<i4")
    tables = Tables(weights)
    paths = logit_paths(tables)
    if chord:
        weight = np.linspace(0.3, 1.0, vocab * n_ctx).reshape(vocab, n_ctx)
        ours = grid.bounds(prover_chord_coefficient(grid.paths, torch.from_numpy(weight)))
        coefficient = chord_coefficient(paths, Interval.exact(weight))
    else:
        ours = grid.bounds()
        coefficient = cubic_coefficient(paths, n_ctx)
    cases = np.nonzero(valid_cases(vocab, n_ctx))
    enclosure, _ = case_bounds(case_attention(tables, order), cases, paths, coefficient)
    prover = ours.numpy()[cases]
    finite = np.isfinite(enclosure.lo) & np.isfinite(enclosure.hi)
    assert finite.all() and np.isfinite(prover).all()
    tolerance = 1e-9 * (1.0 + np.abs(prover).max())
    assert (enclosure.hi - enclosure.lo <= tolerance).all(), "the checker's case enclosures are wide"
    outside = (prover < enclosure.lo - tolerance) | (prover > enclosure.hi + tolerance)
    assert not outside.any(), f"prover and checker disagree at case {tuple(a[outside][0] for a in cases)}"


# ----------------------------------------------------------------------------- certificates
@settings(max_examples=SOME)
@given(spec=small_models, strategy=st.sampled_from(STRATEGIES))
def test_checked_bound_never_exceeds_exact_accuracy(tmp_path_factory, spec, strategy):
    directory = tmp_path_factory.mktemp("m")
    model_path, weights = build(directory, spec)
    certificate, _, verdict = prove_and_check(directory, model_path, weights, strategy)
    assert verdict.status == "VALID", verdict.message
    covered = covered_sequences(certificate, weights)
    assert verdict.certified_count == certificate.claim_correct == int(covered.sum())
    assert_covered_are_correct(model_path, weights, covered)


@settings(max_examples=FEW)
@given(spec=small_models, shape=st.sampled_from([(2, 5), (3, 5), (2, 6), (3, 6), (4, 6)]),
       strategy=st.sampled_from(STRATEGIES))
def test_long_contexts_never_exceed_exact_accuracy(tmp_path_factory, spec, shape, strategy):
    """K = 5 and 6 on small vocabularies (at most 4,096 sequences, every one checked)."""
    directory = tmp_path_factory.mktemp("m")
    model_path, weights = build(directory, {**spec, "vocab": shape[0], "n_ctx": shape[1]})
    certificate, _, verdict = prove_and_check(directory, model_path, weights, strategy)
    assert verdict.status == "VALID", verdict.message
    covered = covered_sequences(certificate, weights)
    assert verdict.certified_count == certificate.claim_correct == int(covered.sum())
    assert_covered_are_correct(model_path, weights, covered)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("vocab", "n_ctx"), [(1, 2), (1, 4), (2, 2), (2, 5)])
def test_tiny_vocabularies(tmp_path, strategy, vocab, n_ctx):
    """d_vocab = 1 has no wrong logit (its one sequence is correct); d_vocab = 2 has one."""
    spec = {"seed": 5, "vocab": vocab, "n_ctx": n_ctx, "d_model": 3, "scale": 1.0, "biases": True, "tie": "none",
            "nudge": False}
    model_path, weights = build(tmp_path, spec)
    certificate, _, verdict = prove_and_check(tmp_path, model_path, weights, strategy)
    assert verdict.status == "VALID", verdict.message
    covered = covered_sequences(certificate, weights)
    assert verdict.certified_count == int(covered.sum()) >= (1 if vocab == 1 else 0)
    assert_covered_are_correct(model_path, weights, covered)


@settings(max_examples=FEW)
@given(spec=small_models, shape=st.sampled_from(TRAINED_SHAPES), strategy=st.sampled_from(STRATEGIES))
def test_trained_models_checked_bound_never_exceeds_exact_accuracy(tmp_path_factory, spec, shape, strategy):
    directory = tmp_path_factory.mktemp("m")
    spec = {**spec, "vocab": shape[0], "n_ctx": shape[1], "d_model": shape[2]}
    model_path, weights = build(directory, spec, trained=True)
    certificate, _, verdict = prove_and_check(directory, model_path, weights, strategy)
    assert verdict.status == "VALID", verdict.message
    covered = covered_sequences(certificate, weights)
    assert verdict.certified_count == int(covered.sum())
    assert_covered_are_correct(model_path, weights, covered)


# ----------------------------------------------------------------------------- adversarial certificates
@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    """A trained model with many good cases and its two certificates (strategy -> (model, certificate))."""
    directory = tmp_path_factory.mktemp("proven")
    spec = {"seed": 1, "vocab": 8, "n_ctx": 3, "d_model": 8, "tie": "none", "nudge": False}
    model_path, weights = build(directory, spec, trained=True)
    certificates = {}
    for strategy in STRATEGIES:
        certificate, _, verdict = prove_and_check(directory, model_path, weights, strategy)
        assert verdict.status == "VALID" and certificate.claim_correct > 0
        certificates[strategy] = certificate
    return directory, model_path, weights, certificates


def check_edited(directory: Path, model_path: Path, certificate: Certificate, **arrays: np.ndarray):
    """Replace arrays (by name, in whichever step holds them) and check the edited certificate."""
    path = directory / "edited.cert"
    write_certificate(path, with_hints(certificate, certificate.claim_correct, **arrays))
    return verify(path, model_path)


def arrays_of(certificate: Certificate) -> dict[str, np.ndarray]:
    return {name: value for step in certificate.trace for name, value in step.arrays.items()}


def with_hints(certificate: Certificate, claim: int, **arrays: np.ndarray) -> Certificate:
    """The certificate with some hint arrays replaced (by name) and another claim."""
    trace = tuple(TraceStep(step.step, {name: arrays.get(name, value) for name, value in step.arrays.items()})
                  for step in certificate.trace)
    return replace(certificate, claim_correct=claim, trace=trace)


@settings(max_examples=SOME)
@given(strategy=st.sampled_from(STRATEGIES), seed=st.integers(0, 2**31), density=st.floats(0, 1))
def test_any_hints_are_sound(proven, strategy, seed, density):
    """The orderings, the selection and the chord weights are hints: with every row permuted at random,
    a random selection of triples and random weights, the checker still certifies only correct sequences
    (fewer, in general), and exactly the count it reports."""
    directory, model_path, weights, certificates = proven
    certificate = certificates[strategy]
    rng = np.random.default_rng(seed)
    arrays = arrays_of(certificate)
    order = rng.permuted(arrays["order"], axis=1)
    triples = rng.random(arrays["triples"].shape) < density
    hints = {"order": order, "triples": triples}
    if "weight" in arrays:  # the chord weights are hints too: any value in (0, 1]
        hints["weight"] = rng.choice([1.0, 0.5, 0.3, 0.1, 1e-3], size=arrays["weight"].shape)
    edited = with_hints(certificate, 0, **hints)
    path = directory / "permuted.cert"
    write_certificate(path, edited)
    verdict = verify(path, model_path)
    assert verdict.status == "VALID", verdict.message
    covered = covered_sequences(edited, weights)
    assert verdict.certified_count == int(covered.sum())
    if "weight" not in arrays:  # wider orderings and fewer triples only lose (other chord weights may win)
        assert verdict.certified_count <= certificate.claim_correct
    assert_covered_are_correct(model_path, weights, covered)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_selection_loses_nothing_and_saves_the_unprovable_triples(proven, strategy):
    """With every triple selected the checker certifies the prover's claim and no more; the prover's
    selection bounds only the triples with a good case (fewer cases, fewer FLOPs)."""
    directory, model_path, _, certificates = proven
    certificate = certificates[strategy]
    triples = arrays_of(certificate)["triples"]
    assert 0 < np.count_nonzero(triples) < triples.size
    path = directory / "everything.cert"
    write_certificate(path, with_hints(certificate, 0, triples=np.ones_like(triples)))
    everything = verify(path, model_path)
    write_certificate(path, certificate)
    selected = verify(path, model_path)
    assert everything.certified_count == selected.certified_count == certificate.claim_correct
    assert selected.notes["bounded_cases"] < everything.notes["bounded_cases"] == everything.notes["cases"]
    assert selected.flops < everything.flops


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_claim_raised_by_one_is_invalid(proven, strategy):
    directory, model_path, _, certificates = proven
    certificate = certificates[strategy]
    path = directory / "raised.cert"
    write_certificate(path, replace(certificate, claim_correct=certificate.claim_correct + 1))
    verdict = verify(path, model_path)
    assert verdict.status == "INVALID" and "count" in verdict.message


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_malformed_hints_and_claims_are_invalid(proven, strategy):
    directory, model_path, weights, certificates = proven
    certificate = certificates[strategy]
    arrays = arrays_of(certificate)
    vocab = weights.d_vocab

    order = arrays["order"].copy()
    order[2] = 0
    assert "step 'orderings' array 'order' index (2,)" in check_edited(directory, model_path, certificate,
                                                                       order=order).message
    for bad_row in ([1, 1], [0, 5], [-1, 0]):
        order = arrays["order"].copy()
        order[vocab - 1] = bad_row
        verdict = check_edited(directory, model_path, certificate, order=order)
        assert verdict.status == "INVALID" and f"index ({vocab - 1},)" in verdict.message, verdict.message


def test_certificates_hold_no_per_case_data(proven):
    """The trace is hints only (O(V^2 n) numbers), and a trace that also carries SPEC 5.2's per-case
    bounds (the layout before 2026-12-02) is refused, naming the step."""
    directory, model_path, weights, certificates = proven
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    for strategy, certificate in certificates.items():
        assert sum(array.size for step in certificate.trace for array in step.arrays.values()) <= (
            vocab * vocab * n_ctx + 2 * vocab * n_ctx)
        old = TraceStep("bounds", {"good": np.zeros((weights.d_vocab,) * 3 + (weights.n_ctx,), bool),
                                   "bound": np.zeros(0, "<f4")})
        path = directory / "old-layout.cert"
        write_certificate(path, replace(certificate, trace=(*certificate.trace, old)))
        verdict = verify(path, model_path)
        assert verdict.status in ("INVALID", "ERROR") and "bounds" in verdict.message, (strategy, verdict.message)


def test_chord_weights_are_checked(proven):
    directory, model_path, weights, certificates = proven
    certificate = certificates["cubic-ov-chord"]
    weight = arrays_of(certificate)["weight"]
    for bad in (0.0, 1.5, -0.25):
        edited = weight.copy()
        edited[3, 1] = bad
        verdict = check_edited(directory, model_path, certificate, weight=edited)
        assert "step 'chords' array 'weight' index (3, 1)" in verdict.message
    tiny = np.full_like(weight, 2.0**-40)  # no case with c >= 1 meets the side condition: only c = 0 left
    verdict = check_edited(directory, model_path, certificate, weight=tiny)
    assert verdict.status == "INVALID" and "count" in verdict.message
    edited = replace(certificate, claim_correct=0, trace=tuple(
        TraceStep(step.step, {"weight": tiny} if "weight" in step.arrays else step.arrays)
        for step in certificate.trace))
    path = directory / "tiny.cert"
    write_certificate(path, edited)
    verdict = verify(path, model_path)
    assert verdict.status == "VALID"
    vocab = weights.d_vocab
    assert verdict.certified_count <= vocab * (vocab + 1) // 2  # at most the (q <= m, c = 0) cases


# ----------------------------------------------------------------------------- shipped models
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("model_path", SHIPPED, ids=lambda path: path.stem)
def test_shipped_models(tmp_path, model_path, strategy):
    """VALID, every covered sequence correct, compact certificate, FLOPs far below brute force."""
    weights = load_model(model_path)
    certificate, path, verdict = prove_and_check(tmp_path, model_path, weights, strategy)
    assert verdict.status == "VALID", verdict.message
    assert path.stat().st_size < 24 * 2**10  # hints only: 16 KiB of selection, 768 B of orderings, 2 KiB of weights
    assert verdict.flops < 10**8
    assert_covered_are_correct(model_path, weights, covered_sequences(certificate, weights))
