"""Checking certificates against a model with the independent checker.

Only numpy and the trusted packages are needed here (no torch): an in-memory certificate is encoded to
the bytes a file would hold, and the checker reads those bytes, so an object and its file get the same
verdict.
"""

from __future__ import annotations

import os

from certificates.codec import Certificate
from certificates.errors import one_line
from checker.verify import ERROR, Verdict, check_bytes, check_file
from compact_proofs.models import Model
from prover.writers import encode_certificate

MEMORY_NAME = "<memory>"
"""How a verdict names a certificate that was checked from memory rather than from a file."""


def check(certificate: Certificate | bytes | str | os.PathLike[str], model: Model) -> Verdict:
    """The checker's verdict on ``certificate`` (a :class:`Certificate`, its encoded bytes, or the path of
    a certificate file) about ``model``, under the limits ``model`` was read with.

    Never raises on bad input: what cannot be read or does not match ``model`` is an ERROR verdict with a
    one-line message, a claim that fails is INVALID. ``verdict.bound`` (a Fraction), ``verdict.flops``
    (the proof length) and ``verdict.certified_count`` are set when it is VALID.
    """
    if isinstance(certificate, Certificate):
        try:
            data = encode_certificate(certificate)
        except ValueError as error:
            return Verdict(ERROR, MEMORY_NAME, model.name, message=one_line(str(error)))
        return check_bytes(data, model.checked, model.limits, MEMORY_NAME)
    if isinstance(certificate, bytes):
        return check_bytes(certificate, model.checked, model.limits, MEMORY_NAME)
    return check_file(certificate, model.checked, model.limits)

