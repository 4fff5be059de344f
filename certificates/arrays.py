"""Wire-format primitives of the certificate: exact-key maps, strict scalars and typed arrays.

Everything here treats its input as untrusted. A decoder either returns a value of the documented
type and range or raises CertificateFormatError whose message starts with the ``where`` it was given.
Array objects are ``{"dtype": str, "shape": [int, ...], "data": bytes}`` (SPEC section 3).
"""

from __future__ import annotations

import math

import numpy as np

from certificates.errors import CertificateFormatError, short_repr

ALLOWED_DTYPES = ("<f8", "<f4", "<i8", "<i4", "|u1", "|b1")
MAX_NDIM = 8
MAX_ELEMENTS = 2**40
"""Most elements of any array, counting a zero dimension as 1, whatever the caller allows: far above
what a certificate file can hold, far below what overflows numpy's shape and stride arithmetic."""
_FLOAT_DTYPES = ("<f8", "<f4")
_ARRAY_KEYS = ("dtype", "shape", "data")


def type_name(value: object) -> str:
    """The msgpack-level name of ``value``'s type, for error messages."""
    names = {dict: "map", list: "list", str: "str", bytes: "bytes", bool: "bool", int: "int", float: "float"}
    return "nil" if value is None else names.get(type(value), type(value).__name__)


def exact_map(value: object, keys: tuple[str, ...], where: str) -> dict[str, object]:
    """``value`` itself, checked to be a map whose keys are exactly ``keys`` (no key missing, none extra)."""
    if type(value) is not dict:
        raise CertificateFormatError(f"{where}: expected a map, got {type_name(value)}")
    for key in value:
        if key not in keys:
            raise CertificateFormatError(f"{where}: unknown key {short_repr(key)}")
    for key in keys:
        if key not in value:
            raise CertificateFormatError(f"{where}: missing key {key!r}")
    return value


def strict_int(value: object, where: str, *, minimum: int, maximum: int) -> int:
    """``value`` checked to be a Python int (a bool is not an int here) with minimum <= value <= maximum."""
    if type(value) is not int:
        raise CertificateFormatError(f"{where}: expected an int, got {type_name(value)}")
    if not minimum <= value <= maximum:
        raise CertificateFormatError(f"{where}: {value} is outside [{minimum}, {maximum}]")
    return value


def strict_str(value: object, where: str) -> str:
    """``value`` checked to be a non-empty str."""
    if type(value) is not str:
        raise CertificateFormatError(f"{where}: expected a str, got {type_name(value)}")
    if not value:
        raise CertificateFormatError(f"{where}: empty string")
    return value


MAX_COUNT_DIGITS = 1 << 20
"""Most decimal digits of a count (a 1 MB string): any V^n the checker's limits admit has far fewer."""
_DIGIT_CHUNK = 4000
"""Digits converted at once, below Python's 4,300-digit int/str conversion limit."""


def count_digits_bound(base: int, exponent: int) -> int:
    """An upper bound on the decimal digits of any count in [0, base^exponent] (``base`` >= 1): the
    digits of base^exponent are floor(exponent log10 base) + 1, and one more absorbs the float's error."""
    return min(MAX_COUNT_DIGITS, int(exponent * math.log10(base)) + 2)


def decode_count(value: object, where: str, max_digits: int = MAX_COUNT_DIGITS) -> int:
    """The count written as ``value``: a str of 1 to ``max_digits`` (at most MAX_COUNT_DIGITS) ASCII
    digits without a leading zero (the canonical form of :func:`encode_count`); CertificateFormatError
    otherwise. The conversion splits the digits in halves (subquadratic: about 2 s at a million digits,
    where chunk-by-chunk accumulation took 8 s); callers pass the digits their statement allows."""
    if type(value) is not str:
        raise CertificateFormatError(f"{where}: expected a decimal string, got {type_name(value)}")
    limit = min(max_digits, MAX_COUNT_DIGITS)
    if not 0 < len(value) <= limit or not value.isascii() or not value.isdigit():
        raise CertificateFormatError(f"{where}: {short_repr(value)} is not 1 to {limit} decimal digits")
    if value[0] == "0" and len(value) > 1:
        raise CertificateFormatError(f"{where}: {short_repr(value)} has a leading zero")
    return _digits_to_int(value, {})


def _digits_to_int(digits: str, powers: dict[int, int]) -> int:
    """int(digits) for any length: the high half times 10^len(low half) plus the low half, the powers of
    ten memoised in ``powers`` (each length recurs at most twice per level)."""
    if len(digits) <= _DIGIT_CHUNK:
        return int(digits)
    low = len(digits) // 2
    if low not in powers:
        powers[low] = 10**low
    return _digits_to_int(digits[:-low], powers) * powers[low] + _digits_to_int(digits[-low:], powers)


def decode_array(obj: object, *, where: str, max_elements: int) -> np.ndarray:
    """The read-only native-byte-order array described by the wire object ``obj``.

    Checks, in this order and before allocating anything proportional to the declared shape: the
    exact key set, dtype in ALLOWED_DTYPES, shape a list of at most MAX_NDIM ints in
    [0, max_elements] whose product is <= max_elements (and that of its nonzero entries <=
    MAX_ELEMENTS), data bytes of exactly product * itemsize;
    then values: floats finite, booleans stored as 0 or 1. Any violation raises
    CertificateFormatError naming ``where``.
    """
    if type(max_elements) is not int or max_elements < 0:
        raise ValueError(f"max_elements must be a non-negative int, got {max_elements!r}")
    fields = exact_map(obj, _ARRAY_KEYS, where)
    wire = fields["dtype"]
    if type(wire) is not str or wire not in ALLOWED_DTYPES:
        raise CertificateFormatError(f"{where}: dtype {short_repr(wire)} is not one of {ALLOWED_DTYPES}")
    shape = _decode_shape(fields["shape"], where, max_elements)
    data = fields["data"]
    if type(data) is not bytes:
        raise CertificateFormatError(f"{where}: data must be bytes, got {type_name(data)}")
    expected = math.prod(shape) * np.dtype(wire).itemsize
    if len(data) != expected:
        raise CertificateFormatError(
            f"{where}: data has {len(data)} bytes, but dtype {wire} and shape {shape} need {expected}"
        )
    values = np.frombuffer(data, dtype=np.dtype(wire)).reshape(shape)
    problem = _value_problem(values, wire)
    if problem is not None:
        raise CertificateFormatError(f"{where}: {problem}")
    native = values.astype(values.dtype.newbyteorder("="), copy=False)
    native.flags.writeable = False
    return native


def _decode_shape(value: object, where: str, max_elements: int) -> tuple[int, ...]:
    """The shape as a tuple, checked to hold at most ``max_elements`` elements without allocating them."""
    if type(value) is not list:
        raise CertificateFormatError(f"{where}: shape must be a list, got {type_name(value)}")
    if len(value) > MAX_NDIM:
        raise CertificateFormatError(f"{where}: shape has {len(value)} dimensions, more than {MAX_NDIM}")
    shape = tuple(strict_int(n, f"{where}: shape entry", minimum=0, maximum=max_elements) for n in value)
    if math.prod(shape) > max_elements:
        raise CertificateFormatError(
            f"{where}: shape {list(shape)} has {math.prod(shape)} elements; at most {max_elements} allowed"
        )
    # A zero dimension makes the product 0 whatever the others are; bounding the product of the nonzero
    # dimensions too keeps every dimension and every stride in range for numpy (no reshape overflow).
    limit = min(max_elements, MAX_ELEMENTS)
    if math.prod(max(n, 1) for n in shape) > limit:
        raise CertificateFormatError(f"{where}: shape {list(shape)} has dimensions whose product exceeds {limit}")
    return shape


def _value_problem(values: np.ndarray, wire: str) -> str | None:
    """Why ``values`` (of wire dtype ``wire``) cannot appear in a certificate, or None if they can."""
    if wire in _FLOAT_DTYPES and not np.isfinite(values).all():
        return "contains NaN or inf (certificates hold finite values only)"
    if wire == "|b1" and (values.view(np.uint8) > 1).any():
        return "holds a boolean byte other than 0 or 1"
    return None
