"""Certificate files: their names, and reading them back within the sizes the checker allows."""

from __future__ import annotations

import os
import re

from certificates import codec
from certificates.codec import Certificate
from checker.verify import max_certificate_bytes, max_trace_elements
from compact_proofs.models import Model

CERTIFICATE_SUFFIX = ".cert"


def certificate_filename(strategy_name: str) -> str:
    """A portable file name for a certificate of the strategy ``strategy_name``, e.g. ``cubic.cert``."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", strategy_name).strip("_") + CERTIFICATE_SUFFIX


def read_certificate(path: str | os.PathLike[str], model: Model) -> Certificate:
    """The certificate file at ``path``, decoded within the sizes the checker allows for ``model``. Its
    claims are not checked (:func:`compact_proofs.check` does that). InputError (one line) if it cannot
    be read."""
    weights = model.weights
    return codec.read_certificate(
        path, max_array_elements=max_trace_elements(weights), max_bytes=max_certificate_bytes(weights)
    )
