"""The declared trace schema of a strategy: the one description of what its certificates' traces hold.

A :class:`TraceSchema` is the ordered list of a strategy's steps; each :class:`StepSchema` names its
arrays, and each :class:`ArraySchema` gives the array's shape (in terms of the statement's sizes), dtype
and role. The checker reads a trace only through its strategy's schema (:meth:`TraceSchema.read`:
exactly these steps in this order, exactly these arrays, these dtypes and shapes, INVALID naming the
step and array otherwise); the prover writes through the same schema (:meth:`TraceSchema.write`); the
mutation tests take each array's role from it.

Roles (what a replay does with the array; SPEC section 3):

* ``upper`` / ``lower``: claimed upper (lower) bounds of real quantities, each accepted only if it is at
  least (at most) the checker's rigorous enclosure, then used downstream as an exact float;
* ``hint``: any value gives a sound proof (directions, orderings, gaps, weights): tightness and cost only;
* ``cases``: a claimed set of cases (a mask), every one of which the replay must prove;
* ``diagnostic``: not part of the proof (e.g. the sequences the prover did not claim).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from certificates.codec import TraceStep
from certificates.errors import short_repr
from checker.replay import InvalidCertificate

if TYPE_CHECKING:
    from certificates.model_file import ModelWeights

UPPER, LOWER, HINT, CASES, DIAGNOSTIC = "upper", "lower", "hint", "cases", "diagnostic"
ROLES = (UPPER, LOWER, HINT, CASES, DIAGNOSTIC)
ANY = "*"
"""A dimension of any length (e.g. one entry per claimed case)."""
DIMENSIONS = ("V", "n", "n-1", "d", "h", ANY)

Trace = dict[str, dict[str, np.ndarray]]
"""A read trace: step name -> array name -> the validated (read-only) array."""


@dataclass(frozen=True)
class Sizes:
    """The statement's sizes, from the model file: V (d_vocab), n (n_ctx), d (d_model), h (d_head)."""

    V: int
    n: int
    d: int
    h: int

    @staticmethod
    def of(weights: ModelWeights) -> Sizes:
        return Sizes(weights.d_vocab, weights.n_ctx, weights.d_model, weights.d_head)

    def length(self, dimension: str | int) -> int | None:
        """The length a dimension stands for (None for :data:`ANY`)."""
        if isinstance(dimension, int):
            return dimension
        return {"V": self.V, "n": self.n, "n-1": self.n - 1, "d": self.d, "h": self.h, ANY: None}[dimension]


@dataclass(frozen=True)
class ArraySchema:
    """One array of a step: its shape (dimension names of :data:`DIMENSIONS`), numpy dtype string, role."""

    shape: tuple[str | int, ...]
    dtype: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES or any(isinstance(d, str) and d not in DIMENSIONS for d in self.shape):
            raise ValueError(f"malformed array schema {self}")

    def problem(self, array: np.ndarray, sizes: Sizes) -> str | None:
        """Why ``array`` does not fit this schema, or None."""
        if array.dtype != np.dtype(self.dtype):
            return f"dtype {array.dtype.str}, expected {self.dtype}"
        wanted = [sizes.length(dimension) for dimension in self.shape]
        if len(wanted) != array.ndim or any(w not in (None, got) for w, got in zip(wanted, array.shape, strict=False)):
            shown = ["any" if w is None else w for w in wanted]
            return f"shape {list(array.shape)}, expected {shown}"
        return None


@dataclass(frozen=True)
class StepSchema:
    """One step of a trace: its name and its arrays (name -> schema)."""

    name: str
    arrays: Mapping[str, ArraySchema]


@dataclass(frozen=True)
class TraceSchema:
    """The steps of a strategy's trace, in order."""

    steps: tuple[StepSchema, ...]

    def role(self, step: str, array: str) -> str:
        """The declared role of ``array`` of ``step`` (KeyError if undeclared)."""
        steps = {declared.name: declared for declared in self.steps}
        return steps[step].arrays[array].role

    def read(self, trace: tuple[TraceStep, ...], sizes: Sizes) -> Trace:
        """The arrays of ``trace``, which must hold exactly the declared steps and arrays; INVALID, naming
        the step and the array, at the first difference."""
        read: Trace = {}
        for position, expected in enumerate(self.steps):
            if position >= len(trace):
                raise InvalidCertificate(expected.name, None, None, "step missing from the trace")
            found = trace[position]
            if found.step != expected.name:
                reason = f"expected step '{expected.name}', found {short_repr(found.step)}"
                raise InvalidCertificate(expected.name, None, None, reason)
            if set(found.arrays) != set(expected.arrays):
                reason = f"arrays {short_repr(sorted(found.arrays))} differ from the expected {sorted(expected.arrays)}"
                raise InvalidCertificate(expected.name, None, None, reason)
            for name, schema in expected.arrays.items():
                problem = schema.problem(found.arrays[name], sizes)
                if problem is not None:
                    raise InvalidCertificate(expected.name, name, None, problem)
            read[expected.name] = dict(found.arrays)
        if len(trace) > len(self.steps):
            extra = trace[len(self.steps)].step
            raise InvalidCertificate(extra, None, None, "unexpected step after the end of the proof")
        return read

    def write(self, arrays: Trace, sizes: Sizes) -> tuple[TraceStep, ...]:
        """The trace steps holding ``arrays`` (step -> array name -> array); ValueError unless
        :meth:`read` would accept them (the prover's guarantee that it writes what the checker reads)."""
        if list(arrays) != [step.name for step in self.steps]:
            raise ValueError(f"trace steps {list(arrays)} differ from the schema's {[s.name for s in self.steps]}")
        steps = tuple(TraceStep(name, {key: np.asarray(value) for key, value in step.items()})
                      for name, step in arrays.items())
        try:
            self.read(steps, sizes)
        except InvalidCertificate as problem:
            raise ValueError(f"the trace does not fit its schema: {problem}") from None
        return steps
