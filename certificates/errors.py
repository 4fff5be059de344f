"""Exceptions for unreadable or mismatched input.

Every exception raised here renders as exactly one printable line: the checker prints ``str(e)``
after ``ERROR`` and a line break or control character in an attacker-chosen name must not forge a
second verdict line.
"""

from __future__ import annotations

import math

MAX_MESSAGE_CHARS = 1000
"""Messages longer than this are cut, so a huge name in a malformed input cannot flood the terminal."""


MAX_DECIMAL_BITS = 13_000
"""Counts up to this many bits (about 3,900 digits, below Python's 4,300-digit int-to-str limit) are
printed exactly in decimal; larger ones approximately on the text line and exactly in hex in JSON."""


def format_count(value: int, max_bits: int = MAX_DECIMAL_BITS) -> str:
    """``value`` in decimal if it has at most ``max_bits`` bits, else ``~d.dddde+N`` (5 significant
    digits, computed from the top 64 bits in time linear in the size, never through str(int))."""
    if value.bit_length() <= max_bits:
        return str(value)
    shift = max(value.bit_length() - 64, 0)
    log10 = math.log10(value >> shift) + shift * math.log10(2)
    exponent = math.floor(log10)
    return f"~{10 ** (log10 - exponent):.4f}e+{exponent}"


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to at most ``limit`` characters; for quoting untrusted values in messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """``text`` with every non-printable character (line breaks, tabs, escape sequences, ...) written as
    its Python escape, so the result is one line whatever ``text`` holds; printable text is unchanged."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(text: str) -> str:
    """:func:`printable` ``text`` with the length capped at MAX_MESSAGE_CHARS.

    The result contains no line break, tab or other control character.
    """
    escaped = printable(text)
    if len(escaped) > MAX_MESSAGE_CHARS:
        escaped = escaped[: MAX_MESSAGE_CHARS - 3] + "..."
    return escaped


def describe_os_error(error: OSError) -> str:
    """A short lower-case reason for a failed open/stat/read, e.g. "no such file"."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "is a directory"
    if isinstance(error, PermissionError):
        return "permission denied"
    return (error.strerror or type(error).__name__).lower()


class InputError(Exception):
    """Unreadable or mismatched input: the checker's ERROR verdict (exit 2). ``str(e)`` is one clear line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class CertificateFormatError(InputError):
    """The certificate bytes do not follow the v1 format (SPEC section 3)."""


class ModelFileError(InputError):
    """The model file is unreadable, malformed, or describes an unsupported architecture (SPEC section 1)."""
