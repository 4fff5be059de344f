"""The checker's promise, fuzzed: it never accepts a bound above the exact truth.

For every registered strategy (all of the small families, a drawn sample of the large ones per example,
and every one of them deterministically on a planted model) and every generated model
(:mod:`tests.generators`: random, trained, planted near-failures down to a few ulps, exact ties, extreme
scales), the prover's certificate, when VALID, certifies at most the exact number of correct sequences
(:mod:`tests.exact_reference`); where its trace names the covered sequences (:mod:`tests.coverage`),
every one of them is correct; and the same certificate claiming exact + 1 is INVALID. Also here: the
prover's robustness (certify or decline, never crash) and checks of the generators and of the oracle.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from checker.verify import ERROR, VALID, Verdict
from prover.certify import prove
from prover.strategies import StrategyInfo, all_strategies, lookup
from prover.writers import encode_certificate
from tests.exact_reference import ExactAccuracy, brute_force_reference, exact_accuracy
from tests.generators import (
    GeneratedModel,
    ModelSpec,
    build_model,
    extreme_models,
    models,
    planted_margin,
    planted_models,
    random_models,
    tied_models,
)
from tests.trust import (
    Tally,
    assert_claim_above_truth_refused,
    assert_covered_are_correct,
    assert_not_over_claimed,
    by_profile,
    check_bytes,
    proven_bytes,
    proven_bytes_or_none,
    strategy_sample,
    tally,
)

EXAMPLE_TRAINED = ModelSpec(kind="trained", seed=1, vocab=6, n_ctx=3, d_model=8)


def check_strategy(model: GeneratedModel, strategy: StrategyInfo, truth: ExactAccuracy, current: Tally) -> None:
    """Prove (the prover may decline: then nothing is checked) and :func:`check_certificate`."""
    data = proven_bytes_or_none(model.weights, strategy, current)
    if data is not None:
        check_certificate(model, strategy, data, truth, current)


def check_certificate(model: GeneratedModel, strategy: StrategyInfo, data: bytes, truth: ExactAccuracy,
                      current: Tally) -> Verdict:
    """Check (count and, where the trace names them, covered sequences) and refute exact + 1; the verdict."""
    path = model.path.with_suffix(".cert")
    verdict = check_bytes(path, data, model.path)
    if verdict.status != VALID:  # a completeness problem of the prover, not a soundness one
        current.add(refuted_prover_claims=1, **{f"refuted:{strategy.family}": 1})
    current.add(certificates=1)
    assert_not_over_claimed(verdict, truth.count, current, strategy.name)
    assert_covered_are_correct(data, verdict, truth, model.weights, current, strategy.name)
    assert_claim_above_truth_refused(path, data, model.path, truth.count, current, strategy.name)
    return verdict


@settings(max_examples=by_profile(ci=24, long=1500))
@given(spec=models(), data=st.data())
def test_no_strategy_over_claims_on_any_model(tmp_path_factory, spec, data):
    model = build_model(spec, tmp_path_factory.mktemp("model"))
    truth = exact_accuracy(model.weights)
    with tally("no-over-claim") as current:
        current.add(models=1, tied_sequences=int(truth.tied.sum()))
        for strategy in strategy_sample(data):
            check_strategy(model, strategy, truth, current)


STRATEGY_NAMES = [info.name for info in all_strategies()]
HUGE_TWO_TOKEN = ModelSpec(kind="extreme", seed=0, vocab=2, n_ctx=2, d_model=2, biases=False, variant="huge")


@settings(max_examples=by_profile(ci=12, long=200))
@given(spec=models(), names=st.lists(st.sampled_from(STRATEGY_NAMES), min_size=1, max_size=12, unique=True))
@example(spec=HUGE_TWO_TOKEN, names=["subcubic/EUPU=mean-query+max-diff,attn=mean-query+diff,attn-err=exact"])
def test_the_prover_certifies_or_declines_every_model(tmp_path_factory, spec, names):
    """Robustness, not soundness: on every generated model each strategy either declines with a
    ValueError saying why, or emits a certificate that encodes and that the checker can read. (The
    explicit example: weights times 2^90, where the subcubic prover's ``abar`` hint used to overflow to
    NaN, which the codec refuses to encode.)"""
    model = build_model(spec, tmp_path_factory.mktemp("model"))
    for name in names:
        try:
            certificate, _ = prove(model.weights, lookup(name), torch.device("cpu"))
        except ValueError:
            continue
        data_bytes = encode_certificate(certificate)
        verdict = check_bytes(model.path.with_suffix(".cert"), data_bytes, model.path)
        assert verdict.status != ERROR, f"{name}: {verdict.message}"


@pytest.fixture(scope="module")
def planted_trained(tmp_path_factory) -> dict[int, tuple[GeneratedModel, ExactAccuracy]]:
    """A trained model with a near-failure planted on the sequence whose correct margin is smallest, wrong
    (-1) or right (+1) by 2^-53 of its other logits' scale, a few float64 ulps: sign -> (model, exact truth)."""
    base = exact_accuracy(build_model(EXAMPLE_TRAINED, tmp_path_factory.mktemp("base")).weights)
    smallest = int(np.argmin(np.where(base.correct, np.abs(base.margins), np.inf)))
    planted = {}
    for sign in (-1, 1):
        spec = replace(EXAMPLE_TRAINED, kind="planted", base="trained", planted=smallest, planted_sign=sign,
                       planted_exponent=53)
        model = build_model(spec, tmp_path_factory.mktemp("planted"))
        planted[sign] = model, exact_accuracy(model.weights)
    return planted


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda info: info.name)
@pytest.mark.parametrize("sign", [-1, 1], ids=["planted-wrong", "planted-right"])
def test_every_registered_strategy_certifies_a_planted_trained_model(planted_trained, strategy, sign):
    """Every registered strategy, deterministically, whatever the sampling of the fuzzing above, on an
    ordinary trained model with one near-failure planted: the prover must produce a certificate (declining
    or crashing fails the test), the checker must find it VALID with a positive count, and the soundness
    assertions hold (no over-claim, covered sequences correct, exact + 1 refused). Brute force certifies
    every correct sequence but, at most, the planted one, right by 2^-53 of its logits' scale: below what the
    float64 enclosures of the tables resolve (it is missed when planted right, 180 of 181)."""
    model, truth = planted_trained[sign]
    with tally("every-strategy") as current:
        verdict = check_certificate(model, strategy, proven_bytes(model.weights, strategy), truth, current)
    assert verdict.status == VALID, f"{strategy.name}: {verdict.status} {verdict.message}"
    assert verdict.certified_count > 0, f"{strategy.name}: a VALID certificate of nothing"
    if strategy.family == "brute-force":
        assert verdict.certified_count >= truth.count - 1


# ----------------------------------------------------------------------------- the generators and the oracle
@settings(max_examples=by_profile(ci=10, long=300))
@given(spec=planted_models())
def test_planted_sequences_sit_on_the_intended_side(tmp_path_factory, spec):
    model = build_model(spec, tmp_path_factory.mktemp("planted"))
    margin = planted_margin(model)
    assert np.sign(margin) == spec.planted_sign and abs(margin) <= 2.0 ** (1 - spec.planted_exponent), margin
    truth = exact_accuracy(model.weights)
    sequence = np.unravel_index(spec.planted, (spec.vocab,) * spec.n_ctx)
    assert truth.correct[sequence] == (spec.planted_sign > 0)


@settings(max_examples=by_profile(ci=10, long=300))
@given(spec=tied_models())
def test_exact_ties_are_failures(tmp_path_factory, spec):
    model = build_model(spec, tmp_path_factory.mktemp("tied"))
    truth = exact_accuracy(model.weights)
    labels = np.indices(truth.correct.shape).max(axis=0)
    variant = spec.variant.split("+")
    if "zero-unembed" in variant:
        assert truth.tied.all()
    if "unembed-columns" in variant:
        # tokens V-1 and V-2 always have equal logits: a sequence with max V-1 or V-2 is never correct
        assert not truth.correct[labels >= spec.vocab - 2].any()
    assert not (truth.correct & truth.tied).any()


@settings(max_examples=by_profile(ci=6, long=200))
@given(spec=st.one_of(random_models(), tied_models(), planted_models(), extreme_models()).filter(
    lambda spec: spec.vocab**spec.n_ctx <= 64 and spec.variant not in ("huge", "mixed")))
def test_exact_reference_agrees_with_a_straight_mpmath_forward_pass(tmp_path_factory, spec):
    """The fast exact oracle against the slow one (200-bit mpmath through the residual stream): they must
    agree wherever the slow one's margin is clearly away from zero, razor-thin planted margins included.
    (Huge weights are left out: scores of 2^200 and more are beyond what 200 fixed bits can exponentiate.)"""
    model = build_model(spec, tmp_path_factory.mktemp("oracle"))
    truth = exact_accuracy(model.weights)
    slow = brute_force_reference(model.weights)
    scale = np.max(np.abs(slow)) if np.isfinite(slow).all() and slow.size else 1.0
    clear = np.abs(slow) > 1e-40 * max(scale, 1e-300)
    assert np.array_equal(truth.correct[clear], slow[clear] > 0)
