"""Counting the objects of a msgpack document without building them.

:func:`check_object_budget` walks the msgpack bytes header by header (payloads of str, bin and ext are
skipped by their declared length) and stops as soon as it has seen more than ``max_objects`` objects.
Guarantee: it either returns, and then the one document at the start of ``data`` holds at most
``max_objects`` objects (every scalar, str, bin, ext, array and map counts one; so msgpack builds at
most that many Python objects plus one key per map entry, whatever the nesting), or raises
CertificateFormatError. It takes O(min(objects, max_objects)) steps and allocates nothing proportional
to the input. It does not validate the document: the real decoder still runs afterwards.
"""

from __future__ import annotations

from certificates.errors import CertificateFormatError

_FIXED_WIDTH = {
    0xC0: 0, 0xC2: 0, 0xC3: 0,  # nil, false, true
    0xCA: 4, 0xCB: 8,  # float 32, 64
    0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,  # uint 8..64
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,  # int 8..64
    0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,  # fixext 1..16 (type byte + data)
}
"""Header byte -> bytes that follow it, for the objects of fixed size."""
_LENGTH_PREFIXED = {
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),  # bin 8, 16, 32
    0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),  # str 8, 16, 32
    0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),  # ext 8, 16, 32 (then a type byte)
}
"""Header byte -> (width of the big-endian length, extra bytes before the payload)."""
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
"""Header byte -> (width of the element count, objects per element): array 16, 32, map 16, 32."""


def check_object_budget(data: bytes, max_objects: int) -> None:
    """Raise CertificateFormatError if the document at the start of ``data`` holds more than
    ``max_objects`` objects or ends early (see the module docstring)."""
    position, pending, objects, size = 0, 1, 0, len(data)
    while pending:
        if position >= size:
            raise CertificateFormatError("certificate is not valid msgpack: data ends inside an object")
        objects += 1
        pending -= 1
        if objects > max_objects:
            raise CertificateFormatError(
                f"certificate holds more than {max_objects} msgpack objects (the decoder's object budget)"
            )
        byte = data[position]
        position += 1
        if byte <= 0x7F or byte >= 0xE0:  # positive and negative fixint
            continue
        if byte <= 0x8F:  # fixmap
            pending += 2 * (byte & 0x0F)
        elif byte <= 0x9F:  # fixarray
            pending += byte & 0x0F
        elif byte <= 0xBF:  # fixstr
            position += byte & 0x1F
        elif byte in _FIXED_WIDTH:
            position += _FIXED_WIDTH[byte]
        elif byte in _LENGTH_PREFIXED:
            width, extra = _LENGTH_PREFIXED[byte]
            position += width + extra + int.from_bytes(data[position : position + width], "big")
        elif byte in _CONTAINERS:
            width, per_element = _CONTAINERS[byte]
            pending += per_element * int.from_bytes(data[position : position + width], "big")
            position += width
        else:  # 0xC1 is never used
            raise CertificateFormatError(f"certificate is not valid msgpack: reserved byte 0x{byte:02x}")
