"""`check CERT [CERT ...] --model MODEL [--json]`: the independent checker's command line.

One line on stdout per certificate; diagnostics on stderr. Exit code: the worst verdict over the
certificates (0 VALID, 1 INVALID, 2 ERROR); 3 if the checker itself failed unexpectedly.
"""

from __future__ import annotations

import argparse
import json
import sys

from checker.verify import VALID, Verdict, verify

EXIT_INTERNAL = 3


def format_line(verdict: Verdict) -> str:
    """The one-line human summary of a verdict."""
    head = f"{verdict.status} {verdict.certificate}"
    if verdict.status != VALID:
        return f"{head}: {verdict.message}"
    bound = verdict.bound
    assert bound is not None
    return (
        f"{head}: {verdict.strategy} proves accuracy >= {verdict.claimed}/{verdict.total} = "
        f"{float(bound):.6f} (certified {verdict.certified_count}); "
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
        "claimed": verdict.claimed,
        "certified_count": verdict.certified_count,
        "total": verdict.total,
        "bound": None if bound is None else f"{bound.numerator}/{bound.denominator}",
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
                print(f"check: {verdict.status}: {verdict.message}", file=sys.stderr)
            worst = max(worst, verdict.exit_code)
    except Exception as error:  # a checker bug must still end in one line, never a traceback
        print(f"check: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_INTERNAL
    return worst


if __name__ == "__main__":
    sys.exit(main())
