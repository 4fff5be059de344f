"""The checker's declared resource limits, checked before anything proportional to them is allocated.

A hostile model file or certificate must get a verdict quickly and in memory proportional to its size.
:class:`Limits` bounds the statement (V, n, d, h, hence the model file's size) and the work a strategy's
replay may do, estimated from the statement alone by the strategy's registered estimate
(:mod:`checker.strategies`). Every refusal is one :class:`LimitError` line that names the limit, the
value that exceeded it and the ``check`` option that raises it.

Work is counted in FLOPs of the cost model (:mod:`checker.kernel.flops`) plus the exact-table arithmetic,
where one exact integer multiply-add counts EXACT_OP_WEIGHT and the rounding of one exact table entry
ENCLOSURE_WEIGHT (their measured cost relative to a float operation; both run as Python integers).
The defaults admit every check of the shipped V = 64, n = 4 models, including a brute force whose every
sequence needs stage 2 (about 2.7e10 work, 55 to 75 s on a shared 2-core machine), and every brute-force
shard of 2^24 sequences at V = 64 and n <= 6 (3.7e10 in that worst case: the default shards of K = 5 and
K = 6), and refuse what would take longer. (Until 2026-12-02 the work limit was 3e10, which refused the
K = 5 shards by 5%.)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from certificates.errors import InputError, format_count

EXACT_OP_WEIGHT = 64
ENCLOSURE_WEIGHT = 4096
_FLOAT32_BYTES = 4
_HEADER_ALLOWANCE = 1 << 20
_SHOWN_BITS = 50


class LimitError(InputError):
    """The input is well formed but exceeds a declared resource limit (verdict ERROR, exit 2)."""


@dataclass(frozen=True)
class Limits:
    """Upper bounds the checker enforces; each field has the command-line option ``--max-<field>``."""

    vocab: int = 1024
    """V (d_vocab): the tables are V x V."""
    context: int = 1024
    """n (n_ctx)."""
    width: int = 1024
    """d (d_model) and h (d_head)."""
    work: int = 4 * 10**10
    """Estimated work of one check: the exact tables plus the strategy's replay (module docstring)."""

    def check(self, name: str, value: int, what: str) -> None:
        """Raise LimitError unless ``value <= getattr(self, name)``."""
        limit = getattr(self, name)
        if value > limit:
            raise LimitError(
                f"{what} = {format_count(value, _SHOWN_BITS)} exceeds the checker's limit "
                f"{format_count(limit, _SHOWN_BITS)} (raise it with {option(name)})"
            )

    def check_sizes(self, d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> None:
        """Raise LimitError if the statement's sizes exceed ``vocab``, ``context`` or ``width``."""
        self.check("vocab", d_vocab, "d_vocab V")
        self.check("context", n_ctx, "n_ctx n")
        self.check("width", d_model, "d_model d")
        self.check("width", d_head, "d_head h")

    def model_bytes(self) -> int:
        """The largest model file whose tensors fit the size limits: every read tensor and an n x n mask
        at the largest V, n, d, h, plus a header allowance. Larger files are refused before reading."""
        V, n, w = self.vocab, self.context, self.width
        elements = 2 * V * w + n * w + 4 * w * w + 4 * w + V + 2 * n * n + 1
        return _FLOAT32_BYTES * elements + _HEADER_ALLOWANCE


def option(name: str) -> str:
    """The ``check`` option that sets the limit ``name``."""
    return f"--max-{name}"


LIMIT_NAMES = tuple(field.name for field in fields(Limits))


def table_work(d_vocab: int, n_ctx: int, d_model: int, d_head: int) -> int:
    """Estimated work of every exact table of :mod:`checker.tables`: its exact multiply-adds and roundings."""
    V, n, d, h = d_vocab, n_ctx, d_model, d_head
    exact_ops = V * V * (h + 2 * d) + V * (4 * d * h + n * h) + n * (3 * d * h + d * V)
    entries = 3 * V * V + 2 * V * n
    return EXACT_OP_WEIGHT * exact_ops + ENCLOSURE_WEIGHT * entries
