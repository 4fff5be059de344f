"""Sharded brute force (SPEC 8): the query-prefix scheme, and the check of a set of shard certificates.

The scheme. For n >= 2 and a depth j in 0..n-2, the sequence x in {0..V-1}^n lies in the shard with index

    s(x) = sum_{i=0..j} d_i V^(j-i),   d_0 = x_{n-1} (the query),  d_i = x_{i-1} for 1 <= i <= j,

the base-V number whose digits are the query and then the first j tokens. ``s`` maps onto
0..V^(j+1)-1, so the shards of one depth partition the input space: shard s holds exactly the
V^(n-1-j) sequences with those j+1 tokens fixed and positions j..n-2 free. Wherever a shard lists its
sequences (the brute-force trace), it numbers them in C order over the free positions (x_j most
significant). A shard's index determines its sequences; nothing else in its certificate does.

A set of shard certificates is checked as a whole by :mod:`checker.shard_set`.
"""

from __future__ import annotations

from dataclasses import dataclass

from certificates.codec import Shard
from certificates.errors import InputError, format_count


@dataclass(frozen=True)
class ShardScope:
    """The sequences of one shard: ``query`` at position n-1, ``prefix`` at positions 0..j-1, and
    ``free`` positions j..n-2 ranging over all of 0..V-1."""

    query: int
    prefix: tuple[int, ...]
    free: int


def shard_count(d_vocab: int, depth: int) -> int:
    """The number of shards of depth ``depth``: V^(depth+1)."""
    return d_vocab ** (depth + 1)


def shard_scope(shard: Shard, d_vocab: int, n_ctx: int) -> ShardScope:
    """The sequences of ``shard`` for a model with this V and n; InputError if the model has no such
    shard (n < 2, depth above n-2, or index not below V^(depth+1))."""
    if n_ctx < 2 or shard.depth > n_ctx - 2:
        raise InputError(f"shard depth {shard.depth} is not in 0..n-2 for n = {n_ctx}")
    if shard.index >= shard_count(d_vocab, shard.depth):
        raise InputError(
            f"shard index {format_count(shard.index, 64)} is not below V^(depth+1) = "
            f"{format_count(shard_count(d_vocab, shard.depth), 64)}"
        )
    digits, rest = [], shard.index
    for _ in range(shard.depth + 1):
        rest, digit = divmod(rest, d_vocab)
        digits.append(digit)
    query, *prefix = reversed(digits)
    return ShardScope(query=query, prefix=tuple(prefix), free=n_ctx - 1 - shard.depth)
