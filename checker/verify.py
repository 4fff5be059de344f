"""The checker's pipeline: read and validate, recompute the statement, replay, count, give a verdict.

The checker trusts nothing it did not compute: the statement (V, n, the input set, the label max(x),
the model digest) comes from the model file; the certificate is only a list of claims about that model.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, fields
from fractions import Fraction

import numpy as np

from certificates.codec import MAX_CERTIFICATE_BYTES, Certificate, read_certificate
from certificates.errors import InputError
from certificates.model_file import ModelWeights, load_model
from checker import flops, strategies
from checker.fpenv import assert_fp_environment
from checker.limits import LimitError, Limits, option, table_work
from checker.replay import InvalidCertificate
from checker.tables import Tables, compute_tables

VALID, INVALID, ERROR = "VALID", "INVALID", "ERROR"
EXIT_CODES = {VALID: 0, INVALID: 1, ERROR: 2}
DEFAULT_LIMITS = Limits()


@dataclass
class Verdict:
    """The outcome of checking one certificate against one model."""

    status: str
    certificate: str
    model: str
    message: str = ""
    strategy: str | None = None
    claimed: int | None = None
    certified_count: int | None = None
    total: int | None = None
    flops: int = 0
    bookkeeping: int = 0
    seconds: float = 0.0
    notes: dict[str, object] | None = None

    @property
    def bound(self) -> Fraction | None:
        """The certified accuracy lower bound claim / V^n (VALID verdicts only)."""
        if self.status != VALID or self.claimed is None or not self.total:
            return None
        return Fraction(self.claimed, self.total)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


def max_certificate_bytes(weights: ModelWeights) -> int:
    """The largest certificate read for this model: 16 bytes per cell of the [V, V, V, n] case grid (the
    largest trace of any strategy has 5) plus 1 MiB, at most MAX_CERTIFICATE_BYTES."""
    return min(MAX_CERTIFICATE_BYTES, 16 * weights.d_vocab**3 * weights.n_ctx + (1 << 20))


def max_trace_elements(weights: ModelWeights) -> int:
    """The largest array a certificate for this model may hold: every case split and every sequence."""
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    return max(vocab**n_ctx, vocab**3 * n_ctx * n_ctx, 1 << 16)


def verify(
    certificate_path: str | os.PathLike, model_path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS
) -> Verdict:
    """Check one certificate against one model file; never raises on bad input.

    Resources: before anything proportional to them is allocated, the model file's size, the
    statement's V, n, d, h, the certificate's size and the estimated work of its strategy are checked
    against ``limits`` (ERROR naming the limit otherwise); the replays then work in blocks, so memory
    stays within a small multiple of the inputs and of those blocks.
    """
    start = time.perf_counter()
    verdict = Verdict(status=ERROR, certificate=str(certificate_path), model=str(model_path))
    try:
        assert_fp_environment()
        _check_model_size(model_path, limits)
        weights = load_model(model_path, max_bytes=limits.model_bytes())
        sizes = (weights.d_vocab, weights.n_ctx, weights.d_model, weights.d_head)
        limits.check_sizes(*sizes)
        certificate = read_certificate(
            certificate_path, max_array_elements=max_trace_elements(weights), max_bytes=max_certificate_bytes(weights)
        )
        _check_statement(certificate, weights)
        strategy = strategies.lookup_strategy(certificate.strategy_name)
        if strategy is None:
            raise InputError(f"unknown strategy {certificate.strategy_name!r}")
        work = table_work(*sizes) + strategy.work(*sizes)
        limits.check("work", work, f"estimated work of {certificate.strategy_name} on this model")
        verdict.strategy, verdict.claimed = certificate.strategy_name, certificate.claim_correct
        verdict.total = weights.d_vocab**weights.n_ctx
        # Overflow and NaN are part of the design (they mean "not certified"), not warnings to print.
        with flops.counting() as counter, np.errstate(all="ignore"):
            try:
                result = strategy.replay(certificate, weights, tables_of(weights))
                _check_count(result.certified_count, certificate.claim_correct)
                verdict.status, verdict.certified_count, verdict.notes = VALID, result.certified_count, result.notes
            except InvalidCertificate as invalid:
                verdict.status, verdict.message = INVALID, str(invalid)
        verdict.flops, verdict.bookkeeping = counter.flops, counter.bookkeeping
        assert_fp_environment()
    except InputError as error:
        verdict.status, verdict.message = ERROR, str(error)
    except MemoryError:
        # The declared limits are meant to refuse such inputs first; this is the backstop.
        verdict.status, verdict.message = ERROR, "out of memory (the input needs more than this machine has)"
    verdict.seconds = time.perf_counter() - start
    return verdict


_TABLE_CACHE: dict[tuple[str, Fraction], tuple[Tables, int]] = {}
_TABLE_CACHE_SIZE = 4


def tables_of(weights: ModelWeights) -> Tables:
    """The exact tables of ``weights``, computed once per process and model, charged on every use.

    The tables are a function of the tensors (named by the digest) and the attention scale, so a
    cached copy is what :func:`compute_tables` would return again; its arrays are made read-only and its
    FLOPs are charged to every replay that uses it, so the proof length does not depend on the cache.
    """
    key = (weights.digest, weights.attn_scale_squared)
    if key not in _TABLE_CACHE:
        with flops.counting() as counter:
            tables = compute_tables(weights)
        for field in fields(tables):
            interval = getattr(tables, field.name)
            interval.lo.setflags(write=False)
            interval.hi.setflags(write=False)
        if len(_TABLE_CACHE) >= _TABLE_CACHE_SIZE:
            _TABLE_CACHE.pop(next(iter(_TABLE_CACHE)))
        _TABLE_CACHE[key] = (tables, counter.flops)
    tables, cost = _TABLE_CACHE[key]
    flops.charge(cost)
    return tables


def _check_model_size(model_path: str | os.PathLike, limits: Limits) -> None:
    """Refuse, naming the size limits, a model file larger than the limits allow (a missing or
    unreadable file is left to the reader, which says so)."""
    try:
        size = os.stat(model_path).st_size
    except OSError:
        return
    allowed = limits.model_bytes()
    if size > allowed:
        raise LimitError(
            f"model {os.fspath(model_path)} is {size} bytes; the size limits allow {allowed} "
            f"(raise them with {option('vocab')}, {option('context')}, {option('width')})"
        )


def _check_statement(certificate: Certificate, weights: ModelWeights) -> None:
    if certificate.cost_model != flops.COST_MODEL_VERSION:
        raise InputError(
            f"certificate counts proof length in cost model v{certificate.cost_model}; "
            f"this checker counts in v{flops.COST_MODEL_VERSION}"
        )
    statement = certificate.statement
    if statement.model_digest != weights.digest:
        raise InputError(
            f"certificate is for model {statement.model_digest}, but the model file has digest {weights.digest}"
        )
    if (statement.d_vocab, statement.n_ctx) != (weights.d_vocab, weights.n_ctx):
        raise InputError(
            f"certificate states V={statement.d_vocab}, n={statement.n_ctx}; "
            f"the model has V={weights.d_vocab}, n={weights.n_ctx}"
        )


def _check_count(certified: int, claimed: int) -> None:
    if certified < claimed:
        raise InvalidCertificate("count", None, None, f"certified {certified} sequences < claimed {claimed}")
