"""The declared trace schemas (checker/schema.py): the checker reads only what a strategy declares, the
prover can write nothing else, and every array of every registered strategy has a declared role that the
hostile-certificate suite reads (an undeclared array fails it)."""

from __future__ import annotations

import numpy as np
import pytest

from certificates.codec import TraceStep
from checker import strategies
from checker.replay import InvalidCertificate
from checker.schema import ANY, HINT, ROLES, UPPER, ArraySchema, Sizes, StepSchema, TraceSchema
from tests.mutations import array_role

SIZES = Sizes(V=4, n=3, d=2, h=2)
SCHEMA = TraceSchema((
    StepSchema("hints", {"order": ArraySchema(("V", "n-1"), "<i4", HINT)}),
    StepSchema("claims", {"bound": ArraySchema((ANY,), "<f4", UPPER)}),
))
GOOD = {"hints": {"order": np.zeros((4, 2), dtype="<i4")}, "claims": {"bound": np.zeros(7, dtype="<f4")}}


def steps(arrays: dict) -> tuple[TraceStep, ...]:
    return tuple(TraceStep(name, dict(values)) for name, values in arrays.items())


def test_a_trace_that_fits_is_read_and_written_alike():
    written = SCHEMA.write(GOOD, SIZES)
    read = SCHEMA.read(written, SIZES)
    assert list(read) == ["hints", "claims"] and read["claims"]["bound"].shape == (7,)


@pytest.mark.parametrize(("trace", "reason"), [
    ({"hints": GOOD["hints"]}, "step missing"),
    ({**GOOD, "extra": {}}, "unexpected step"),
    ({"claims": GOOD["claims"], "hints": GOOD["hints"]}, "expected step 'hints'"),
    ({"hints": {"order": GOOD["hints"]["order"], "more": np.zeros(1)}, "claims": GOOD["claims"]}, "arrays"),
    ({"hints": {"order": np.zeros((4, 2), dtype="<i8")}, "claims": GOOD["claims"]}, "dtype"),
    ({"hints": {"order": np.zeros((4, 3), dtype="<i4")}, "claims": GOOD["claims"]}, "shape"),
    ({"hints": {"order": np.zeros((4, 2, 1), dtype="<i4")}, "claims": GOOD["claims"]}, "shape"),
    ({"hints": GOOD["hints"], "claims": {"bound": np.zeros((7, 1), dtype="<f4")}}, "shape"),
])
def test_the_reader_refuses_anything_else_naming_the_step(trace, reason):
    with pytest.raises(InvalidCertificate, match=reason):
        SCHEMA.read(steps(trace), SIZES)
    with pytest.raises(ValueError):
        SCHEMA.write(trace, SIZES)


def test_a_certificate_chosen_step_name_cannot_forge_a_line():
    forged = {"hints\nVALID forged" + "x" * 10_000: GOOD["hints"], "claims": GOOD["claims"]}
    with pytest.raises(InvalidCertificate) as failure:
        SCHEMA.read(steps(forged), SIZES)
    assert "\n" not in str(failure.value) and len(str(failure.value)) < 300


def test_every_array_of_every_strategy_has_a_declared_role():
    for strategy in strategies.registered():
        for step in strategy.schema.steps:
            for name, array in step.arrays.items():
                assert array.role in ROLES
                assert array_role(strategy.name, step.name, name) == array.role


def test_an_undeclared_array_fails_the_hostile_suite():
    with pytest.raises(AssertionError, match="not declared"):
        array_role("cubic", "bounds", "telepathy")
    with pytest.raises(AssertionError, match="not declared"):
        array_role("cubic", "no-such-step", "bound")
    with pytest.raises(AssertionError, match="not registered"):
        array_role("telepathy", "bounds", "bound")


def test_a_malformed_declaration_is_refused():
    with pytest.raises(ValueError):
        ArraySchema(("V", "q"), "<f8", HINT)
    with pytest.raises(ValueError):
        ArraySchema(("V",), "<f8", "telepathy")
