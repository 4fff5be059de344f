"""`estimate MODEL [--samples N] [--confidence C] [--seed S] [--json]`: a statistical accuracy estimate.

Not a proof (:mod:`compact_proofs.estimating`): the output says so on every line. Exit codes: 0 success;
2 bad input (missing or unsupported model, samples or confidence out of range), with one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import compact_proofs as cp
from certificates.errors import InputError, printable

EXIT_BAD_INPUT = 2
MAX_SAMPLES = 10**10


def positive_samples(text: str) -> int:
    """A sample count: an integer in 1..MAX_SAMPLES."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{printable(text[:40])!s} is not an integer") from None
    if not 1 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"samples must lie in 1..{MAX_SAMPLES:.0e}")
    return value


def confidence_level(text: str) -> float:
    """A confidence strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{printable(text[:40])!s} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError("confidence must lie strictly between 0 and 1")
    return value


def format_line(result: cp.Estimate) -> str:
    return printable(
        f"ESTIMATE {result.model}: accuracy in [{result.lower:.6f}, {result.upper:.6f}] at confidence "
        f"{result.confidence} ({result.samples:,} uniform samples, seed {result.seed}: {result.proven_correct:,} "
        f"proven correct, {result.proven_wrong:,} proven wrong, {result.undecided:,} undecided; "
        f"{result.seconds:.2f} s); {result.label}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="estimate", description="Estimate a model's accuracy from uniform samples (a statistical statement, "
        "not a proof).")
    parser.add_argument("model", help="model file (safetensors, TransformerLens names)")
    parser.add_argument("--samples", type=positive_samples, default=100_000, help="samples (default 100,000)")
    parser.add_argument("--confidence", type=confidence_level, default=0.999, help="confidence (default 0.999)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample draw (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        model = cp.load_model(args.model)
    except (InputError, OSError) as error:
        print(printable(f"estimate: error: {error}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    bar = False if args.no_progress else None
    result = cp.estimate(model, args.samples, args.confidence, args.seed, progress_bar=bar)
    if args.json:
        print(json.dumps(dataclasses.asdict(result) | {"undecided": result.undecided}))
    else:
        print(format_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
