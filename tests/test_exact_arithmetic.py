"""The exact references of :mod:`tests.exact_arithmetic` against the exact oracle and against arithmetic
facts, so a wrong reference cannot make a containment test pass."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings

from tests.exact_arithmetic import DBL_MAX, OverRoot, holds, is_positive_definite, sequence_truths
from tests.exact_reference import exact_accuracy
from tests.generators import build_model, small_models
from tests.trust import by_profile


@settings(max_examples=by_profile(ci=8, long=200))
@given(spec=small_models())
def test_sequence_truths_decide_every_sequence_like_the_exact_oracle(tmp_path_factory, spec):
    """correct iff the worst difference is certainly negative, tied iff it is exactly 0; the attention
    brackets contain weights that sum to 1."""
    model = build_model(spec, tmp_path_factory.mktemp("model"))
    truth = exact_accuracy(model.weights)
    for sequence, exact in sequence_truths(model.weights).items():
        worst = exact.worst_difference
        assert (worst.hi < 0) == bool(truth.correct[sequence]), sequence
        assert (worst.lo == worst.hi == 0) == bool(truth.tied[sequence]), sequence
        total = exact.attention_where(list(range(len(sequence))))
        assert total.lo <= 1 <= total.hi and total.hi - total.lo < Fraction(1, 2**150)


def test_comparisons_are_exact():
    """1/sqrt(2) lies strictly between the floats around 0.7071067811865476 (its nearest float is above);
    NaN bounds nothing, an infinite bound only what no finite float bounds."""
    nearest = 0.7071067811865476
    below = np.nextafter(nearest, 0)
    value = OverRoot(np.array([Fraction(1)], dtype=object), Fraction(2))
    assert holds(np.array([nearest]), value, upper=True).all() and not holds(np.array([below]), value, upper=True)
    assert holds(np.array([below]), value, upper=False).all() and not holds(np.array([nearest]), value, upper=False)
    negative = OverRoot(np.array([Fraction(-1)], dtype=object), Fraction(2))
    assert holds(np.array([-below]), negative, upper=True).all()
    assert not holds(np.array([np.nan, np.inf, -np.inf]), value, upper=True).any()
    huge = np.array([Fraction(2) ** 1024], dtype=object)
    assert holds(np.array([np.inf]), huge, upper=True).all() and not holds(np.array([DBL_MAX]), huge, upper=True)


def test_positive_definiteness_is_exact():
    assert is_positive_definite(np.array([[Fraction(2), Fraction(1)], [Fraction(1), Fraction(1)]], dtype=object))
    singular = np.array([[Fraction(1), Fraction(1)], [Fraction(1), Fraction(1)]], dtype=object)
    assert not is_positive_definite(singular)
    assert not is_positive_definite(singular - np.diag([Fraction(1, 2**80)] * 2).astype(object))
