"""`check CERT [CERT ...] --model MODEL [--json]`: the independent checker's command line.

One line on stdout per certificate; diagnostics on stderr. Exit code: the worst verdict over the
certificates (0 VALID, 1 INVALID, 2 ERROR); 3 if the checker itself failed unexpectedly.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from certificates.errors import one_line, printable
from checker.verify import VALID, Verdict, verify

EXIT_INTERNAL = 3


MAX_DECIMAL_BITS = 13_000
"""Counts up to this many bits (about 3,900 digits, below Python's 4,300-digit int-to-str limit) are
printed exactly in decimal; larger ones approximately on the text line and exactly in hex in JSON."""


def format_count(value: int) -> str:
    """``value`` in decimal if it has at most MAX_DECIMAL_BITS bits, else ``~d.dddde+N`` (5 significant
    digits, computed from the top 64 bits in time linear in the size, never through str(int))."""
    if value.bit_length() <= MAX_DECIMAL_BITS:
        return str(value)
    shift = value.bit_length() - 64
    log10 = math.log10(value >> shift) + shift * math.log10(2)
    exponent = math.floor(log10)
    return f"~{10 ** (log10 - exponent):.4f}e+{exponent}"


def json_count(value: int | None) -> int | str | None:
    """``value`` as a JSON int if it has at most MAX_DECIMAL_BITS bits, else as an exact hex string
    ("0x..."), which takes linear time where a decimal string would not."""
    if value is None or value.bit_length() <= MAX_DECIMAL_BITS:
        return value
    return hex(value)


def format_line(verdict: Verdict) -> str:
    """The one-line human summary of a verdict; untrusted text in it (file names, names and messages
    from the certificate) is escaped by :func:`certificates.errors.printable`, so it is one line."""
    head = f"{verdict.status} {verdict.certificate}"
    if verdict.status != VALID:
        return printable(f"{head}: {verdict.message}")
    bound = verdict.bound
    assert bound is not None and verdict.claimed is not None and verdict.total is not None
    return printable(
        f"{head}: {verdict.strategy} proves accuracy >= {format_count(verdict.claimed)}/"
        f"{format_count(verdict.total)} = {float(bound):.6f} (certified {format_count(verdict.certified_count)}); "
        f"{verdict.flops:.3e} FLOPs; {verdict.seconds:.2f} s"
    )


def as_json(verdict: Verdict) -> dict[str, object]:
    """A machine-readable verdict (the bound as an exact fraction string and a decimal)."""
    bound = verdict.bound
    return {
        "status": verdict.status,
        "certificate": verdict.certificate,
        "model": verdict.model,
        "strategy": verdict.strategy,
        "claimed": json_count(verdict.claimed),
        "certified_count": json_count(verdict.certified_count),
        "total": json_count(verdict.total),
        "bound": None if bound is None else f"{json_count(bound.numerator)}/{json_count(bound.denominator)}",
        "bound_decimal": None if bound is None else float(bound),
        "flops": verdict.flops,
        "bookkeeping_ops": verdict.bookkeeping,
        "seconds": round(verdict.seconds, 4),
        "message": verdict.message,
        "notes": verdict.notes or {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check", description="Rigorously re-check compact-proofs certificates.")
    parser.add_argument("certificates", nargs="+", metavar="CERT", help="certificate file(s) (.cert)")
    parser.add_argument("--model", required=True, help="the model (safetensors) the certificates are about")
    parser.add_argument("--json", action="store_true", help="print one JSON object per certificate")
    args = parser.parse_args(argv)
    worst = 0
    try:
        for path in args.certificates:
            verdict = verify(path, args.model)
            print(json.dumps(as_json(verdict), default=str) if args.json else format_line(verdict), flush=True)
            if verdict.status != VALID:
                print(printable(f"check: {verdict.status}: {verdict.message}"), file=sys.stderr)
            worst = max(worst, verdict.exit_code)
    except Exception as error:  # a checker bug must still end in one line, never a traceback
        print(one_line(f"check: internal error: {type(error).__name__}: {error}"), file=sys.stderr)
        return EXIT_INTERNAL
    return worst


if __name__ == "__main__":
    sys.exit(main())
