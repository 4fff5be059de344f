"""A mutation engine for hostile certificates: every field of a valid certificate changed in turn.

:func:`mutations` takes the bytes of a valid certificate and returns :class:`Mutation` objects, each with
the hostile bytes and what the checker must answer:

* ``ERROR``: unreadable or mismatched input (codec limits, wrong digest, unknown strategy, NaN bytes...);
* ``INVALID``: a readable certificate that does not prove its claim (a tight claim raised by one, a
  step missing, duplicated or out of order...);
* ``REJECTED``: INVALID or ERROR, where either is a fair reading of SPEC 3 (an allowed dtype that the
  step does not expect, one axis too many...);
* ``SOUND``: any verdict, because the change may be harmless (a claimed upper bound moved UP, a hint
  changed, a knob added). The suite still requires, as for every mutation, that a VALID verdict never
  certifies more sequences than are correct, nor covers a wrong one where the trace names its coverage.

Array entries are moved according to their role in the proof, read from the strategy's declared trace
schema (:meth:`checker.schema.TraceSchema.role`): a claimed upper bound lowered "a lot" (to the most
negative finite value of its dtype) or a claimed lower bound raised a lot must be INVALID on the moderate
models the suite uses; one-ulp moves are SOUND (the prover leaves slack). An array the schema does not
declare fails the suite (:func:`array_role`): a new strategy cannot slip past with "any verdict".
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgpack
import numpy as np

from certificates.arrays import count_digits_bound
from checker import strategies as checker_strategies
from checker.kernel.flops import COST_MODEL_VERSION
from checker.schema import LOWER, UPPER

ERROR, INVALID, REJECTED, SOUND = "ERROR", "INVALID", "REJECTED", "SOUND"


def array_role(strategy: str, step: str, array: str) -> str:
    """The declared role (:data:`checker.schema.ROLES`) of ``array`` of ``step`` in ``strategy``'s schema;
    AssertionError for an unknown strategy or an undeclared array."""
    registered = checker_strategies.lookup(strategy)
    assert registered is not None, f"strategy {strategy!r} is not registered with the checker"
    try:
        return registered.schema.role(step, array)
    except KeyError:
        raise AssertionError(f"{strategy}: step {step!r} array {array!r} is not declared in its schema") from None


MSGPACK_UINT_MAX = 2**64 - 1
DISALLOWED_DTYPES = ("<f2", ">f8", ">i4", "|O", "<c16", "|S8", "|V8", "f8", "")
HUGE_HEADERS = {
    "bin32 of 4 GiB": b"\xc6\xff\xff\xff\xff" + bytes(16),
    "str32 of 4 GiB": b"\xdb\xff\xff\xff\xff" + b"a" * 16,
    "array32 of 2^32-1 items": b"\xdd\xff\xff\xff\xff" + b"\xc0" * 16,
    "map32 of 2^32-1 pairs": b"\xdf\xff\xff\xff\xff" + b"\xc0" * 16,
    "100000 nested lists": b"\x91" * 100_000 + b"\xc0",
    "50000 nested maps": b"\x81\xa1k" * 50_000 + b"\xc0",
}
"""Raw msgpack values that declare far more than they hold, or nest far deeper than any limit."""
_PLACEHOLDER = b"\x00hostile placeholder\x00"


@dataclass(frozen=True)
class Mutation:
    """One hostile certificate: what was changed, the expected verdict class and the bytes."""

    name: str
    category: str
    expect: str
    data: bytes


def unpack(data: bytes) -> dict:
    """The wire object of certificate bytes (plain msgpack, no validation)."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def pack(wire: object) -> bytes:
    """Plain msgpack bytes of a wire object (the certificate codec's encoding, without its validation)."""
    return msgpack.packb(wire, use_bin_type=True)


def with_claim(data: bytes, claim: int) -> bytes:
    """The certificate ``data`` with the claimed count replaced (a decimal string in format v2)."""
    wire = unpack(data)
    wire["claim"]["value"] = str(claim)
    return pack(wire)


def mutations(
    data: bytes, *, rng: np.random.Generator, entries: int, max_elements: int, other_strategies: list[str]
) -> list[Mutation]:
    """Every mutation of the valid certificate ``data`` (see the module docstring).

    ``entries``: how many entries of each array are moved (chosen by ``rng``, besides the first and the
    last); ``max_elements``: the
    checker's per-array limit for the model (:func:`checker.verify.max_trace_elements`);
    ``other_strategies``: registered names to relabel the certificate with.
    """
    wire = unpack(data)
    found: list[Mutation] = []
    for generate in (_claims, _statement, _strategy, _keys, _steps, _byte_level):
        found.extend(generate(wire, data, other_strategies))
    found.extend(_huge(wire, max_elements))
    for step_index, step in enumerate(wire["trace"]):
        for array_name in step["arrays"]:
            found.extend(_array_mutations(wire, step_index, array_name, rng, entries))
    return found


# ----------------------------------------------------------------------------- helpers
def _changed(wire: dict, change: Callable[[dict], None]) -> bytes:
    """Pack a deep copy of ``wire`` after ``change`` edited it in place."""
    edited = copy.deepcopy(wire)
    change(edited)
    return pack(edited)


def _spliced(wire: dict, change: Callable[[dict, bytes], None], raw: bytes) -> bytes:
    """Pack ``wire`` with a placeholder put in place by ``change``, then swap the placeholder's msgpack
    encoding for the ``raw`` bytes (which need not be valid msgpack)."""
    packed = _changed(wire, lambda edited: change(edited, _PLACEHOLDER))
    marker = pack(_PLACEHOLDER)
    if packed.count(marker) != 1:
        raise AssertionError("placeholder not found exactly once")
    return packed.replace(marker, raw)


def _array(wire: dict, step: int, name: str) -> dict:
    """The wire object of array ``name`` of trace step ``step``."""
    return wire["trace"][step]["arrays"][name]


# ----------------------------------------------------------------------------- top-level fields
def _claims(wire: dict, data: bytes, _: list[str]) -> Iterator[Mutation]:
    """The claim (the certificate is expected to be tight: claim = what the checker certifies)."""
    claim = int(wire["claim"]["value"])
    total = wire["statement"]["d_vocab"] ** wire["statement"]["n_ctx"]
    for name, value, expect in (
        ("claim + 1", claim + 1, INVALID),
        ("claim = V^n + 1", total + 1, INVALID),
        ("claim = 2^64 - 1", MSGPACK_UINT_MAX, INVALID),
        ("claim = 10^100", 10**100, INVALID),
        ("claim - 1", max(claim - 1, 0), SOUND),
        ("claim = 0", 0, SOUND),
    ):
        # A claim with more digits than V^n can have is refused as it is read (ERROR), before any replay.
        too_long = len(str(value)) > count_digits_bound(wire["statement"]["d_vocab"], wire["statement"]["n_ctx"])
        yield Mutation(name, "claim", ERROR if too_long else expect, with_claim(data, value))
    for name, value in (("claim = '-1'", "-1"), ("claim = '1.0'", "1.0"), ("claim = int 1", 1), ("claim = true", True),
                        ("claim = nil", None), ("claim = [claim]", [str(claim)]), ("leading zero", f"0{claim}"),
                        ("claim = ' 1'", " 1")):
        yield Mutation(name, "claim", ERROR, _changed(wire, lambda w, v=value: w["claim"].__setitem__("value", v)))
    yield Mutation("claim kind", "claim", ERROR, _changed(wire, lambda w: w["claim"].__setitem__("kind", "loss")))


def _statement(wire: dict, data: bytes, _: list[str]) -> Iterator[Mutation]:
    """The statement and the format header: the checker derives its own and must refuse a mismatch."""
    digest = wire["statement"]["model_digest"]
    flipped = format(int(digest[0], 16) ^ 1, "x") + digest[1:]
    changes = {
        "digest one hex digit off": ("model_digest", flipped),
        "digest upper-case": ("model_digest", digest.upper()),
        "digest truncated": ("model_digest", digest[:-1]),
        "d_vocab + 1": ("d_vocab", wire["statement"]["d_vocab"] + 1),
        "n_ctx + 1": ("n_ctx", wire["statement"]["n_ctx"] + 1),
        "n_ctx = 0": ("n_ctx", 0),
        "task min": ("task", "min"),
        "model class other": ("model_class", "two-layer"),
    }
    for name, (key, value) in changes.items():
        yield Mutation(name, "statement", ERROR,
                       _changed(wire, lambda w, k=key, v=value: w["statement"].__setitem__(k, v)))
    yield Mutation("format renamed", "statement", ERROR, _changed(wire, lambda w: w.__setitem__("format", "x")))
    yield Mutation("version 1", "statement", ERROR, _changed(wire, lambda w: w.__setitem__("version", 1)))
    yield Mutation("version 3", "statement", ERROR, _changed(wire, lambda w: w.__setitem__("version", 3)))
    for other in (COST_MODEL_VERSION - 1, COST_MODEL_VERSION + 1):
        yield Mutation(f"cost model {other}", "statement", ERROR,
                       _changed(wire, lambda w, v=other: w.__setitem__("cost_model", v)))


def _strategy(wire: dict, data: bytes, others: list[str]) -> Iterator[Mutation]:
    """The strategy name and knobs. The checker reads knobs from the name only, so knobs are SOUND."""
    own = wire["strategy"]["name"]
    for name, value in (("unknown strategy", "telepathy"), ("strategy name with a newline", own + "\nVALID"),
                        ("empty strategy name", "")):
        yield Mutation(name, "strategy", ERROR,
                       _changed(wire, lambda w, v=value: w["strategy"].__setitem__("name", v)))
    for other in others:
        if other != own:
            yield Mutation(f"relabelled as {other}", "strategy", SOUND,
                           _changed(wire, lambda w, v=other: w["strategy"].__setitem__("name", v)))
    yield Mutation("unknown knob", "knob", SOUND,
                   _changed(wire, lambda w: w["strategy"]["params"].__setitem__("telepathy", "on")))
    yield Mutation("knobs dropped", "knob", SOUND, _changed(wire, lambda w: w["strategy"].__setitem__("params", {})))
    for key in wire["strategy"]["params"]:
        yield Mutation(f"knob {key} changed", "knob", SOUND,
                       _changed(wire, lambda w, k=key: w["strategy"]["params"].__setitem__(k, "exact")))
    yield Mutation("knob value a float", "knob", ERROR,
                   _changed(wire, lambda w: w["strategy"]["params"].__setitem__("x", 0.5)))
    yield Mutation("knob value a list", "knob", ERROR,
                   _changed(wire, lambda w: w["strategy"]["params"].__setitem__("x", [1])))


def _keys(wire: dict, data: bytes, _: list[str]) -> Iterator[Mutation]:
    """Extra and missing keys at every map level of the schema."""
    levels: dict[str, Callable[[dict], dict]] = {
        "top": lambda w: w, "statement": lambda w: w["statement"], "strategy": lambda w: w["strategy"],
        "claim": lambda w: w["claim"],
    }
    if wire["trace"]:
        levels["step"] = lambda w: w["trace"][0]
        arrays = wire["trace"][0]["arrays"]
        if arrays:
            first = next(iter(arrays))
            levels["array"] = lambda w: w["trace"][0]["arrays"][first]
    for level, locate in levels.items():
        yield Mutation(f"extra key in {level}", "keys", ERROR,
                       _changed(wire, lambda w, f=locate: f(w).__setitem__("extra", 1)))
        for key in list(locate(wire)):
            yield Mutation(f"{level} key {key!r} missing", "keys", ERROR,
                           _changed(wire, lambda w, f=locate, k=key: f(w).pop(k)))
    yield Mutation("info replaced by a list", "keys", ERROR, _changed(wire, lambda w: w.__setitem__("info", [])))
    yield Mutation("info extra provenance", "keys", SOUND,
                   _changed(wire, lambda w: w["info"].__setitem__("note", "never read")))


def _steps(wire: dict, data: bytes, _: list[str]) -> Iterator[Mutation]:
    """The order and set of trace steps and of each step's arrays."""
    trace = wire["trace"]
    count = len(trace)
    yield Mutation("trace empty", "steps", INVALID, _changed(wire, lambda w: w.__setitem__("trace", [])))
    yield Mutation("unknown step appended", "steps", INVALID,
                   _changed(wire, lambda w: w["trace"].append({"step": "extra", "arrays": {}})))
    for index in range(count):
        name = trace[index]["step"]
        yield Mutation(f"step {name} missing", "steps", INVALID, _changed(wire, lambda w, i=index: w["trace"].pop(i)))
        yield Mutation(f"step {name} duplicated", "steps", INVALID,
                       _changed(wire, lambda w, i=index: w["trace"].insert(i, copy.deepcopy(w["trace"][i]))))
        yield Mutation(f"step {name} renamed", "steps", INVALID,
                       _changed(wire, lambda w, i=index: w["trace"][i].__setitem__("step", "renamed")))
        yield Mutation(f"step {name} gets an extra array", "steps", INVALID, _changed(
            wire, lambda w, i=index: w["trace"][i]["arrays"].__setitem__(
                "extra", {"dtype": "<f8", "shape": [1], "data": bytes(8)})))
        for array in trace[index]["arrays"]:
            yield Mutation(f"array {name}.{array} missing", "steps", INVALID,
                           _changed(wire, lambda w, i=index, a=array: w["trace"][i]["arrays"].pop(a)))
            yield Mutation(f"array {name}.{array} renamed", "steps", INVALID, _changed(
                wire, lambda w, i=index, a=array: w["trace"][i]["arrays"].__setitem__(
                    a + "_renamed", w["trace"][i]["arrays"].pop(a))))
        if index + 1 < count and trace[index + 1]["step"] != name:
            yield Mutation(f"steps {index} and {index + 1} swapped", "steps", INVALID, _changed(
                wire, lambda w, i=index: w["trace"].__setitem__(slice(i, i + 2), w["trace"][i:i + 2][::-1])))


def _byte_level(wire: dict, data: bytes, _: list[str]) -> Iterator[Mutation]:
    """Truncated and extended bytes of the whole certificate."""
    for cut in sorted({1, len(data) // 3, len(data) // 2, len(data) - 1}):
        yield Mutation(f"truncated to {cut} bytes", "bytes", ERROR, data[:cut])
    yield Mutation("one byte appended", "bytes", ERROR, data + b"\x00")
    yield Mutation("a second certificate appended", "bytes", ERROR, data + data)
    yield Mutation("empty file", "bytes", ERROR, b"")


def _huge(wire: dict, max_elements: int) -> Iterator[Mutation]:
    """Declared sizes far beyond the data and beyond the statement's limits, and deep nesting; the
    checker must refuse them without allocating what they declare."""
    targets: dict[str, Callable[[dict, bytes], None]] = {
        "info": lambda w, v: w.__setitem__("info", v),
        "trace": lambda w, v: w.__setitem__("trace", v),
        "knobs": lambda w, v: w["strategy"].__setitem__("params", v),
        "claim": lambda w, v: w["claim"].__setitem__("value", v),
    }
    located = _first_array(wire)
    if located is not None:
        step, name = located
        targets["array data"] = lambda w, v: _array(w, step, name).__setitem__("data", v)
        targets["array shape"] = lambda w, v: _array(w, step, name).__setitem__("shape", v)
    for where, put in targets.items():
        for what, raw in HUGE_HEADERS.items():
            yield Mutation(f"{where}: {what}", "sizes", ERROR, _spliced(wire, put, raw))
    if located is not None:
        step, name = located
        for shape in ([2**40], [max_elements + 1], [2**31, 2**31], [1] * 9, [max_elements, max_elements]):
            yield Mutation(f"shape {shape} declared", "sizes", ERROR,
                           _changed(wire, lambda w, s=shape: _array(w, step, name).__setitem__("shape", s)))


def _first_array(wire: dict) -> tuple[int, str] | None:
    """(step index, array name) of the trace's first array, if any."""
    for index, step in enumerate(wire["trace"]):
        for name in step["arrays"]:
            return index, name
    return None


# ----------------------------------------------------------------------------- arrays
def _array_mutations(wire: dict, step: int, name: str, rng: np.random.Generator, entries: int) -> Iterator[Mutation]:
    """dtype, shape, raw-byte and value mutations of one array."""
    array_wire = _array(wire, step, name)
    label = f"{wire['trace'][step]['step']}.{name}"
    role = array_role(wire["strategy"]["name"], wire["trace"][step]["step"], name)
    values = np.frombuffer(array_wire["data"], dtype=np.dtype(array_wire["dtype"])).reshape(array_wire["shape"])

    def replaced(new: np.ndarray, shape: list[int] | None = None) -> bytes:
        """The certificate with this array's values (same dtype) replaced, and its declared shape."""
        def change(w: dict) -> None:
            target = _array(w, step, name)
            target["data"] = np.ascontiguousarray(new).tobytes()
            target["shape"] = list(new.shape) if shape is None else shape
        return _changed(wire, change)

    yield from _dtype_mutations(wire, step, name, label, values)
    yield from _shape_mutations(label, values, replaced)
    yield from _raw_mutations(wire, step, name, label, values)
    if values.size:
        flat = values.reshape(-1)
        picks = sorted({0, flat.size - 1, *rng.integers(0, flat.size, size=entries).tolist()})[: entries + 2]
        for index in picks:
            for move, value, expect in _moves(flat, index, role):
                edited = flat.copy()
                edited[index] = value
                yield Mutation(f"{label}[{index}] {move}", f"value:{role}", expect,
                               replaced(edited.reshape(values.shape)))


def _dtype_mutations(wire: dict, step: int, name: str, label: str, values: np.ndarray) -> Iterator[Mutation]:
    """Every other allowed dtype (same bytes relabelled, or values converted) and disallowed dtype names."""
    own = _array(wire, step, name)["dtype"]
    for dtype in ("<f8", "<f4", "<i8", "<i4", "|u1", "|b1"):
        if dtype == own:
            continue
        relabelled = _changed(wire, lambda w, d=dtype: _array(w, step, name).__setitem__("dtype", d))
        yield Mutation(f"{label} relabelled {dtype}", "dtype", REJECTED, relabelled)
        with np.errstate(invalid="ignore", over="ignore"):  # out-of-range casts are part of the attack
            converted = values.astype(np.dtype(dtype)) if dtype != "|b1" else values != 0

        def convert(w: dict, d: str = dtype, c: np.ndarray = converted) -> None:
            target = _array(w, step, name)
            target["dtype"], target["data"] = d, np.ascontiguousarray(c).tobytes()

        yield Mutation(f"{label} converted to {dtype}", "dtype", REJECTED, _changed(wire, convert))
    for dtype in DISALLOWED_DTYPES:
        yield Mutation(f"{label} dtype {dtype!r}", "dtype", ERROR,
                       _changed(wire, lambda w, d=dtype: _array(w, step, name).__setitem__("dtype", d)))
    yield Mutation(f"{label} dtype an int", "dtype", ERROR,
                   _changed(wire, lambda w: _array(w, step, name).__setitem__("dtype", 8)))


def _shape_mutations(label: str, values: np.ndarray, replaced: Callable[..., bytes]) -> Iterator[Mutation]:
    yield Mutation(f"{label} one axis more", "shape", REJECTED, replaced(values[..., None]))
    yield Mutation(f"{label} one axis less" if values.ndim > 1 else f"{label} as a row", "shape", REJECTED,
                   replaced(values.reshape(-1) if values.ndim > 1 else values[None]))
    if values.ndim >= 2 and values.shape[0] != values.shape[1]:
        yield Mutation(f"{label} transposed", "shape", REJECTED, replaced(np.swapaxes(values, 0, 1)))
    if values.ndim >= 1 and values.shape[0] > 0:
        yield Mutation(f"{label} first row dropped", "shape", SOUND, replaced(values[1:]))
        yield Mutation(f"{label} last row repeated", "shape", SOUND,
                       replaced(np.concatenate([values, values[-1:]])))
    yield Mutation(f"{label} shape disagrees with data", "shape", ERROR,
                   replaced(values, shape=[values.size + 1]))


def _raw_mutations(wire: dict, step: int, name: str, label: str, values: np.ndarray) -> Iterator[Mutation]:
    """Bytes no certificate may hold: non-finite floats, boolean bytes other than 0/1, wrong lengths."""
    data = _array(wire, step, name)["data"]

    def with_data(new: bytes) -> bytes:
        return _changed(wire, lambda w: _array(w, step, name).__setitem__("data", new))

    yield Mutation(f"{label} data one byte short", "raw", ERROR, with_data(data[:-1]))
    yield Mutation(f"{label} data one byte long", "raw", ERROR, with_data(data + b"\x00"))
    yield Mutation(f"{label} data one item long", "raw", ERROR, with_data(data + data[: values.itemsize] or b"\x00"))
    if not values.size:
        return
    if values.dtype.kind == "f":
        for special in (np.nan, np.inf, -np.inf):
            edited = values.reshape(-1).copy()
            edited[-1] = special
            yield Mutation(f"{label} holds {special}", "raw", ERROR, with_data(edited.tobytes()))
        signalling = bytearray(data)
        signalling[-values.itemsize:] = (b"\x01\x00\x00\x00\x00\x00\xf0\x7f" if values.itemsize == 8
                                         else b"\x01\x00\x80\x7f")
        yield Mutation(f"{label} holds a signalling NaN", "raw", ERROR, with_data(bytes(signalling)))
    if values.dtype.kind == "b":
        yield Mutation(f"{label} holds boolean byte 2", "raw", ERROR, with_data(data[:-1] + b"\x02"))


def _moves(flat: np.ndarray, index: int, role: str) -> Iterator[tuple[str, object, str]]:
    """(description, new value, expectation) for one entry, by dtype and role."""
    value = flat[index]
    if flat.dtype.kind == "f":
        info = np.finfo(flat.dtype)
        down = np.nextafter(value, flat.dtype.type(-np.inf))
        up = np.nextafter(value, flat.dtype.type(np.inf))
        yield "one ulp down", down, SOUND
        yield "one ulp up", up, SOUND
        yield "down a lot", -info.max, REJECTED if role == UPPER else SOUND
        yield "up a lot", info.max, REJECTED if role == LOWER else SOUND
        yield "zeroed", 0.0, SOUND
        yield "negated", -value, SOUND
        yield "smallest subnormal", info.smallest_subnormal, SOUND
    elif flat.dtype.kind == "b":
        yield "flipped", not value, SOUND
    else:
        info = np.iinfo(flat.dtype)
        yield "plus one", min(int(value) + 1, info.max), SOUND
        yield "minus one", max(int(value) - 1, info.min), SOUND
        yield "most negative", info.min, SOUND
        yield "largest", info.max, SOUND
        if flat.size > 1:
            yield "copied from a neighbour", flat[(index + 1) % flat.size], SOUND
