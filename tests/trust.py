"""Helpers shared by the trust suite (soundness fuzzing, hostile certificates): strategy sampling, proving
to bytes, checking bytes, the over-claim assertions, and the evidence counters.

Counters: when the environment variable ``SOUNDNESS_STATS`` names a file, every test example appends one
JSON line ``{"test": ..., "models": ..., "certificates": ..., "mutations": ..., "over_claims": ...}``
to it (:func:`record`); ``bench/soundness_stats.py`` runs the long profile and adds them up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from hypothesis import settings
from hypothesis import strategies as st

from certificates.codec import decode_certificate
from certificates.model_file import ModelWeights
from checker.verify import INVALID, VALID, Verdict, max_trace_elements, verify
from prover.certify import prove
from prover.strategies import StrategyInfo, all_strategies
from prover.writers import encode_certificate
from tests.coverage import covered_sequences
from tests.exact_reference import ExactAccuracy
from tests.mutations import with_claim

STATS_ENV = "SOUNDNESS_STATS"
PER_FAMILY = 2
"""Strategies drawn per family and example; families this small or smaller are run whole."""
CI_MAX_EXAMPLES = 60
"""max_examples of the "ci" profile (tests/conftest.py); other profiles scale the ci counts by theirs."""


def by_profile(ci: int, long: int) -> int:
    """A size (examples of a property, seeds of a generator) under the active hypothesis profile: ``ci``
    under the ci profile (the whole trust suite stays within a few minutes), ``long`` under the long
    profile (the soundness and hostile suites then take about 16 minutes on the 2-core machine), otherwise
    ``ci`` scaled by the profile's max_examples."""
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if profile == "long":
        return long
    return max(1, ci * settings.default.max_examples // CI_MAX_EXAMPLES)


def families() -> dict[str, list[StrategyInfo]]:
    """Every registered strategy, grouped by family (registration order)."""
    grouped: dict[str, list[StrategyInfo]] = {}
    for info in all_strategies():
        grouped.setdefault(info.family, []).append(info)
    return grouped


def representatives() -> list[StrategyInfo]:
    """The first strategy of each family."""
    return [members[0] for members in families().values()]


def strategy_sample(data: st.DataObject) -> list[StrategyInfo]:
    """Every member of the small families and PER_FAMILY members (drawn) of each larger one, so new
    registrations are covered without running all 100 subcubic configurations on every example."""
    chosen = []
    for family, members in families().items():
        if len(members) <= PER_FAMILY:
            chosen.extend(members)
            continue
        by_name = {info.name: info for info in members}
        names = data.draw(st.lists(st.sampled_from(sorted(by_name)), min_size=PER_FAMILY, max_size=PER_FAMILY,
                                   unique=True), label=f"family {family}")
        chosen.extend(by_name[name] for name in names)
    return chosen


def proven_bytes(weights: ModelWeights, strategy: StrategyInfo) -> bytes:
    """The prover's certificate for ``weights`` with ``strategy`` (CPU), encoded."""
    certificate, _ = prove(weights, strategy, torch.device("cpu"))
    return encode_certificate(certificate)


def proven_bytes_or_none(weights: ModelWeights, strategy: StrategyInfo, current: Tally) -> bytes | None:
    """:func:`proven_bytes`, or None when the prover declines (a ValueError from the strategy, counted as
    ``prover_declined``) or fails otherwise (any other exception, or a certificate the codec refuses:
    ``prover_failures``). The checker's soundness is then untested on this pair; the prover's robustness
    is a property of its own (``test_the_prover_certifies_or_declines_every_model``)."""
    try:
        certificate, _ = prove(weights, strategy, torch.device("cpu"))
    except ValueError:
        current.add(prover_declined=1)
        return None
    except Exception:  # any other prover failure: the robustness property reports it
        current.add(prover_failures=1)
        return None
    try:
        return encode_certificate(certificate)
    except ValueError:
        current.add(prover_failures=1)
        return None


def check_bytes(path: Path, data: bytes, model_path: Path) -> Verdict:
    """Write ``data`` to ``path`` and check it against the model; verify() must never raise."""
    path.write_bytes(data)
    return verify(path, model_path)


@dataclass
class Tally:
    """What one test example did, for the evidence counters."""

    test: str
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, **counts: int) -> None:
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value


@contextmanager
def tally(test: str) -> Iterator[Tally]:
    """Collect counts during one example and :func:`record` them, even when the example fails."""
    current = Tally(test)
    try:
        yield current
    finally:
        record(current)


def record(current: Tally) -> None:
    """Append one JSON line to the SOUNDNESS_STATS file, if that variable is set."""
    path = os.environ.get(STATS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"test": current.test, **current.counts}) + "\n")


def assert_not_over_claimed(verdict: Verdict, truth: int, current: Tally, what: str) -> None:
    """A VALID verdict may certify at most ``truth`` sequences (claimed and counted); an over-claim is
    counted before the assertion fails."""
    if verdict.status != VALID:
        return
    over = verdict.claimed is None or verdict.certified_count is None or max(verdict.claimed,
                                                                             verdict.certified_count) > truth
    current.add(over_claims=int(over))
    assert not over, f"{what}: VALID with claim {verdict.claimed}, certified {verdict.certified_count} > exact {truth}"


def assert_covered_are_correct(data: bytes, verdict: Verdict, truth: ExactAccuracy, weights: ModelWeights,
                               current: Tally, what: str) -> None:
    """For a VALID certificate whose trace names its covered sequences (:mod:`tests.coverage`): every one
    of them is correct, and there are exactly as many as the checker certified."""
    if verdict.status != VALID:
        return
    certificate = decode_certificate(data, max_array_elements=max_trace_elements(weights))
    covered = covered_sequences(certificate, weights)
    if covered is None:
        return
    wrong = covered & ~truth.correct
    current.add(covered_checked=int(covered.sum()), over_claims=int(wrong.any()))
    assert not wrong.any(), f"{what}: covers wrong sequences {np.argwhere(wrong)[:5].tolist()}"
    count = int(covered.sum())
    assert count == verdict.certified_count, f"{what}: covers {count}, certified {verdict.certified_count}"


def assert_claim_above_truth_refused(path: Path, data: bytes, model_path: Path, truth: int, current: Tally,
                                     what: str) -> None:
    """The certificate ``data`` with its claim set to ``truth + 1`` must be INVALID."""
    verdict = check_bytes(path, with_claim(data, truth + 1), model_path)
    current.add(certificates=1, over_claims=int(verdict.status == VALID))
    assert verdict.status == INVALID, f"{what} claiming exact + 1 = {truth + 1}: {verdict.status} {verdict.message}"
