"""The checker's pipeline: read and validate, recompute the statement, replay, count, give a verdict.

The checker trusts nothing it did not compute: the statement (V, n, the input set, the label max(x),
the model digest) comes from the model; the certificate is only a list of claims about that model.
A :class:`CheckedModel` is a model as the checker read it, with its exact tables computed on demand and
shared by every certificate checked against it; each certificate's replay is charged for what it reads
(:class:`checker.tables.Tables`), so its proof length does not depend on what was checked before.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from certificates.codec import (
    MAX_CERTIFICATE_BYTES,
    Certificate,
    Shard,
    decode_certificate,
    read_certificate_bytes,
)
from certificates.errors import InputError, short_repr
from certificates.model_file import ModelWeights, load_model
from checker import strategies
from checker.kernel import flops
from checker.kernel.fpenv import assert_fp_environment
from checker.limits import LimitError, Limits, option, table_work
from checker.replay import InvalidCertificate
from checker.schema import Sizes
from checker.shards import shard_scope
from checker.tables import Tables

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
    notes: dict[str, int] | None = None
    shard: Shard | None = None
    """The shard the claim is about (``total`` is then the shard's size), or None for the whole space."""
    model_digest: str | None = None
    """The digest of the weights the certificate was checked against (None if they were never read)."""

    @property
    def bound(self) -> Fraction | None:
        """The certified accuracy lower bound claim / total (VALID verdicts only): over all V^n sequences,
        or over the shard's for a shard certificate."""
        if self.status != VALID or self.claimed is None or not self.total:
            return None
        return Fraction(self.claimed, self.total)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]


@dataclass(frozen=True)
class CheckedModel:
    """A model as the checker read it (``name`` is its file, or a description of where it came from), with
    the exact tables of exactly these weights (built here, never passed in)."""

    name: str
    weights: ModelWeights
    tables: Tables = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", Tables(self.weights))

    @property
    def sizes(self) -> Sizes:
        return Sizes.of(self.weights)


def read_model(model_path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> CheckedModel:
    """The model file at ``model_path``, read strictly and checked against ``limits`` (its size before it
    is read); InputError (or LimitError) otherwise."""
    _check_model_size(model_path, limits)
    return checked_model(load_model(model_path, max_bytes=limits.model_bytes()), limits, os.fspath(model_path))


def checked_model(weights: ModelWeights, limits: Limits = DEFAULT_LIMITS, name: str = "<memory>") -> CheckedModel:
    """``weights`` (validated by the model reader) as a model to check against; LimitError if its sizes
    exceed ``limits``."""
    limits.check_sizes(weights.d_vocab, weights.n_ctx, weights.d_model, weights.d_head)
    return CheckedModel(name, weights)


def verify(
    certificate_path: str | os.PathLike, model_path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS
) -> Verdict:
    """Check one certificate file against one model file; never raises on bad input."""
    try:
        model = read_model(model_path, limits)
    except InputError as error:
        return Verdict(ERROR, os.fspath(certificate_path), os.fspath(model_path), message=str(error))
    return check_file(certificate_path, model, limits)


def check_file(certificate_path: str | os.PathLike, model: CheckedModel, limits: Limits = DEFAULT_LIMITS) -> Verdict:
    """Check the certificate file at ``certificate_path`` against ``model``; never raises on bad input.
    The file is refused unread if it is larger than the model's certificates may be."""
    shown = os.fspath(certificate_path)
    try:
        data = read_certificate_bytes(certificate_path, max_certificate_bytes(model.weights))
    except InputError as error:
        return Verdict(ERROR, shown, model.name, message=str(error))
    return check_bytes(data, model, limits, shown)


def check_bytes(data: bytes, model: CheckedModel, limits: Limits = DEFAULT_LIMITS, name: str = "<memory>") -> Verdict:
    """Check the certificate ``data`` against ``model``; never raises on bad input.

    Resources: before anything proportional to them is allocated, the certificate's size and the
    estimated work of its strategy are checked against ``limits`` (ERROR naming the limit otherwise); the
    replays then work in blocks, so memory stays within a small multiple of the inputs and of those blocks.
    """
    start = time.perf_counter()
    verdict = Verdict(status=ERROR, certificate=name, model=model.name, model_digest=model.weights.digest)
    weights, sizes = model.weights, model.sizes
    try:
        assert_fp_environment()
        certificate = decode_certificate(
            data, max_array_elements=max_trace_elements(weights), max_bytes=max_certificate_bytes(weights)
        )
        _check_statement(certificate, weights)
        strategy = _strategy(certificate)
        work = table_work(sizes.V, sizes.n, sizes.d, sizes.h) + _replay_work(strategy, certificate.shard, sizes)
        limits.check("work", work, f"estimated work of {certificate.strategy_name} on this model")
        verdict.strategy, verdict.claimed = certificate.strategy_name, certificate.claim_correct
        verdict.shard, verdict.total = certificate.shard, _claim_total(certificate.shard, sizes)
        # Overflow and NaN are part of the design (they mean "not certified"), not warnings to print.
        with flops.counting() as counter, np.errstate(all="ignore"):
            try:
                result = replay(certificate, model.tables)
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


def replay(certificate: Certificate, tables: Tables) -> strategies.ReplayResult:
    """Read the trace of ``certificate`` through its strategy's schema and replay it against ``tables``
    (InvalidCertificate at the first claim that fails; InputError for an unknown strategy)."""
    strategy = _strategy(certificate)
    sizes = Sizes.of(tables.weights)
    trace = strategy.schema.read(certificate.trace, sizes)
    if certificate.shard is None:
        return strategy.replay(trace, tables)
    assert strategy.replay_shard is not None  # refused by _replay_work before any replay
    return strategy.replay_shard(trace, tables, shard_scope(certificate.shard, sizes.V, sizes.n))


def _replay_work(strategy: strategies.Strategy, shard: Shard | None, sizes: Sizes) -> int:
    """The estimated work of the replay of ``strategy``, on the whole space or on ``shard``; InputError
    for a shard certificate of a strategy without shards, or a shard the model does not have."""
    if shard is None:
        return strategy.work(sizes.V, sizes.n, sizes.d, sizes.h)
    if strategy.replay_shard is None or strategy.shard_work is None:
        raise InputError(f"strategy {short_repr(strategy.name)} has no shard certificates")
    shard_scope(shard, sizes.V, sizes.n)
    return strategy.shard_work(sizes.V, sizes.n, sizes.d, sizes.h, shard.depth)


def _claim_total(shard: Shard | None, sizes: Sizes) -> int:
    """The number of sequences a claim is about: all V^n, or the shard's V^(n-1-depth)."""
    return sizes.V ** (sizes.n if shard is None else sizes.n - 1 - shard.depth)


def _strategy(certificate: Certificate) -> strategies.Strategy:
    """The registered strategy the certificate names; InputError for an unknown one."""
    strategy = strategies.lookup(certificate.strategy_name)
    if strategy is None:
        raise InputError(f"unknown strategy {short_repr(certificate.strategy_name)}")
    return strategy


def max_certificate_bytes(weights: ModelWeights) -> int:
    """The largest certificate read for this model: 16 bytes per cell of the [V, V, V, n] case grid plus
    1 MiB, at most MAX_CERTIFICATE_BYTES. Generous since 2026-12-02: no strategy's trace has V^3 n entries
    any more (the largest, subcubic and cubic, have O(V^2 n)); kept until a tighter bound is measured."""
    return min(MAX_CERTIFICATE_BYTES, 16 * weights.d_vocab**3 * weights.n_ctx + (1 << 20))


def max_trace_elements(weights: ModelWeights) -> int:
    """The largest array a certificate for this model may hold: every sequence or every case-grid cell
    times n (generous: the arrays of today's strategies have at most O(V^2 n) or 2^16 entries)."""
    vocab, n_ctx = weights.d_vocab, weights.n_ctx
    return max(vocab**n_ctx, vocab**3 * n_ctx * n_ctx, 1 << 16)


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
