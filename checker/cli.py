"""`check CERT [CERT ...] --model MODEL [--json] [--max-vocab N] [--max-context N] [--max-width N]
[--max-work N]`, or `check --shards DIR --model MODEL ...`: the independent checker's command line.

One line on stdout per certificate; diagnostics on stderr (one line per certificate that is not VALID).
With ``--shards DIR`` the certificates ``DIR/*.cert`` are brute-force shards checked as one proof
(:mod:`checker.shard_set`): one line on stdout for the whole set, a line on stderr for each shard that is
not VALID, and a progress line on stderr when it is a terminal.
Every line is escaped (:func:`certificates.errors.printable`), so no file name or certificate string can
forge a line. Exit code: the worst verdict over the certificates (0 VALID, 1 INVALID, 2 ERROR, including
an input over a resource limit of :mod:`checker.limits`); 3 only if the checker itself failed
unexpectedly (a bug).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from certificates.errors import MAX_DECIMAL_BITS, InputError, format_count, one_line, printable, short_repr
from certificates.model_config import bounded_fraction
from checker.kernel.flops import COST_MODEL_VERSION
from checker.limits import LIMIT_NAMES, Limits, option
from checker.shard_set import check_shard_set, shard_paths
from checker.verify import ERROR, VALID, CheckedModel, Verdict, check_file, read_model

EXIT_INTERNAL = 3


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
    assert verdict.certified_count is not None
    shards = (verdict.notes or {}).get("shards")
    if verdict.shard is not None:
        what = f"shard {format_count(verdict.shard.index)} (depth {verdict.shard.depth}) proves shard accuracy"
    elif shards is not None:
        what = f"in {shards} shards (depth {(verdict.notes or {})['shard_depth']}) proves accuracy"
    else:
        what = "proves accuracy"
    return printable(
        f"{head}: {verdict.strategy} {what} >= {format_count(verdict.claimed)}/"
        f"{format_count(verdict.total)} = {float(bound):.6f} (certified {format_count(verdict.certified_count)}); "
        f"{verdict.flops:.3e} FLOPs (cost model v{COST_MODEL_VERSION}); {verdict.seconds:.2f} s"
    )


def as_json(verdict: Verdict) -> dict[str, object]:
    """A machine-readable verdict (the bound as an exact fraction string and a decimal)."""
    bound = verdict.bound
    return {
        "status": verdict.status,
        "certificate": verdict.certificate,
        "model": verdict.model,
        "strategy": verdict.strategy,
        "shard": None if verdict.shard is None else {
            "scheme": verdict.shard.scheme, "depth": verdict.shard.depth, "index": json_count(verdict.shard.index),
        },
        "claimed": json_count(verdict.claimed),
        "certified_count": json_count(verdict.certified_count),
        "total": json_count(verdict.total),
        "bound": None if bound is None else f"{json_count(bound.numerator)}/{json_count(bound.denominator)}",
        "bound_decimal": None if bound is None else float(bound),
        "flops": verdict.flops,
        "cost_model": COST_MODEL_VERSION,
        "bookkeeping_ops": verdict.bookkeeping,
        "seconds": round(verdict.seconds, 4),
        "message": verdict.message,
        "notes": verdict.notes or {},
    }


LIMIT_HELP = {
    "vocab": "refuse models with d_vocab above N",
    "context": "refuse models with n_ctx above N",
    "width": "refuse models with d_model or d_head above N",
    "work": "refuse checks whose estimated work (FLOPs plus weighted exact arithmetic) is above N",
}
assert set(LIMIT_HELP) == set(LIMIT_NAMES)


def limit_value(text: str) -> int:
    """A positive integer limit written as an integer or in scientific notation, e.g. ``2e10``."""
    try:
        value = bounded_fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{short_repr(text)} is not a number") from None
    if value.denominator != 1 or value < 1:
        raise argparse.ArgumentTypeError(f"{short_repr(text)} is not a positive integer")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check", description="Rigorously re-check compact-proofs certificates.")
    parser.add_argument("certificates", nargs="*", metavar="CERT", help="certificate file(s) (.cert)")
    parser.add_argument(
        "--shards", metavar="DIR", help="check the brute-force shard certificates DIR/*.cert as one proof"
    )
    parser.add_argument("--model", required=True, help="the model (safetensors) the certificates are about")
    parser.add_argument("--json", action="store_true", help="print one JSON object per certificate")
    defaults = Limits()
    for name, help_text in LIMIT_HELP.items():
        parser.add_argument(
            option(name), type=limit_value, default=getattr(defaults, name), metavar="N",
            help=f"{help_text} (default {getattr(defaults, name):,})",
        )
    args = parser.parse_args(argv)
    if bool(args.certificates) == bool(args.shards):
        parser.error("give certificate files or --shards DIR (one of the two)")
    limits = Limits(**{name: getattr(args, f"max_{name}") for name in LIMIT_NAMES})
    worst = 0
    try:
        try:
            model = read_model(args.model, limits)
        except InputError as error:
            model, problem = None, str(error)
        for target in [args.shards] if args.shards else args.certificates:
            if model is None:
                verdict = Verdict(ERROR, target, args.model, problem)
            elif args.shards:
                verdict = _shard_set_verdict(target, model, limits)
            else:
                verdict = check_file(target, model, limits)
            print(json.dumps(as_json(verdict), default=str) if args.json else format_line(verdict), flush=True)
            if verdict.status != VALID:
                print(printable(f"check: {verdict.status}: {verdict.message}"), file=sys.stderr)
            worst = max(worst, verdict.exit_code)
    except Exception as error:  # a checker bug must still end in one line, never a traceback
        print(one_line(f"check: internal error: {type(error).__name__}: {error}"), file=sys.stderr)
        return EXIT_INTERNAL
    return worst


def _shard_set_verdict(directory: str, model: CheckedModel, limits: Limits) -> Verdict:
    """The verdict on the shard certificates ``directory/*.cert`` (in name order), with a progress line on
    stderr at a terminal and a line on stderr for each shard that is not VALID."""
    if not Path(directory).is_dir():
        return Verdict(ERROR, directory, model.name, message=f"{directory} is not a directory")
    paths = shard_paths(directory)
    done = 0

    def checked(verdict: Verdict) -> None:
        nonlocal done
        done += 1
        if verdict.status != VALID:
            newline = "\n" if sys.stderr.isatty() else ""
            print(newline + printable(f"check: {verdict.status} {verdict.certificate}: {verdict.message}"),
                  file=sys.stderr)
        if sys.stderr.isatty():
            print(f"\rcheck: {done}/{len(paths)} shards", end="\n" if done == len(paths) else "", file=sys.stderr)

    return check_shard_set(paths, model, limits, name=directory, on_checked=checked)


if __name__ == "__main__":
    sys.exit(main())
