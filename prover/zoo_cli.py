"""The ``zoo`` command line: build and inspect the model zoo.

Subcommands live in :data:`SUBCOMMANDS`; each is one :class:`Subcommand` holding a function that adds
its arguments and a function that runs it and returns the exit code. Bad input is reported as one line
on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import compact_proofs as cp
from certificates.errors import InputError, one_line
from prover import demo, execution, report, report_figures, report_summary
from prover.training import train_zoo


class UsageError(Exception):
    """Bad command-line input; reported as one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


@dataclass(frozen=True)
class Subcommand:
    """One ``zoo`` subcommand: ``configure`` adds its arguments, ``run`` executes it."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_seeds(text: str) -> list[int]:
    """Seeds from a comma-separated list (``"123,50,104"``)."""
    seeds = []
    for item in text.split(","):
        try:
            seeds.append(int(item.strip()))
        except ValueError:
            raise ValueError(f"bad seed {item.strip()!r} in seed list {text!r}") from None
    return seeds


def read_seeds_file(path: Path) -> list[int]:
    """Seeds from a file with one integer per line; blank lines and ``#`` comments are skipped."""
    seeds = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        item = line.split("#", 1)[0].strip()
        if item:
            try:
                seeds.append(int(item))
            except ValueError:
                raise ValueError(f"{path}:{number}: not a seed: {item!r}") from None
    return seeds


def _configure_train(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``zoo train``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--seeds", help="comma-separated training seeds, e.g. 123,50,104")
    source.add_argument("--seeds-file", type=Path, help="file with one seed per line (# comments allowed)")
    parser.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    parser.add_argument("--k", type=_positive_int, default=4, help="sequence length K of Max-of-K (default 4)")
    parser.add_argument("--d-vocab", type=_positive_int, default=64, help="vocabulary size V (default 64)")
    parser.add_argument("--d-model", type=_positive_int, default=32, help="d_model = d_head (default 32)")
    parser.add_argument("--steps", type=_positive_int, default=3000, help="training steps (default 3000)")
    parser.add_argument("--jobs", type=_positive_int, default=1, help="models trained in parallel (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _run_train(args: argparse.Namespace) -> int:
    """``zoo train``: train the missing models of the given seeds; print each model's path."""
    try:
        seeds = parse_seeds(args.seeds) if args.seeds is not None else read_seeds_file(args.seeds_file)
        if not seeds:
            raise ValueError(f"no seeds in {args.seeds_file}")
        paths = train_zoo(
            seeds,
            args.out,
            k=args.k,
            d_vocab=args.d_vocab,
            d_model=args.d_model,
            steps=args.steps,
            progress=not args.no_progress,
            jobs=args.jobs,
        )
    except (ValueError, OSError, InputError) as error:
        raise UsageError(str(error)) from None
    for path in paths:
        print(path)
    return 0


DEFAULT_DEMO_MODEL = Path(__file__).resolve().parent.parent / "models" / "max4-v64-d32-seed123.safetensors"


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``zoo demo``."""
    parser.add_argument("--model", type=Path, default=DEFAULT_DEMO_MODEL, help="model (default: shipped seed 123)")
    parser.add_argument("--out", type=Path, default=Path("certs/demo"), help="certificate directory")
    parser.add_argument(
        "--strategy", action="append", default=None,
        help="strategy, family prefix or 'all' (repeatable; default: one representative per family)",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def _run_demo(args: argparse.Namespace) -> int:
    """``zoo demo``: prove and check strategies on one model and print the table."""
    try:
        chosen = cp.resolve_strategies(args.strategy or demo.DEFAULT_STRATEGIES)
        rows = demo.run_demo(args.model, args.out, chosen, cp.resolve_device(args.device))
    except (cp.RequestError, InputError, OSError) as error:
        raise UsageError(str(error)) from None
    print(demo.format_report(rows))
    return 0 if all(row.verdict.status == "VALID" for row in rows) else 1


DEFAULT_SEEDS_FILE = Path(__file__).resolve().parent.parent / "zoo" / "seeds.txt"


def _configure_report(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``zoo report``."""
    parser.add_argument("--models", type=Path, required=True, help="directory of model files (*.safetensors)")
    parser.add_argument("--out", type=Path, required=True, help="report directory (certificates in OUT/certs/)")
    parser.add_argument(
        "--jobs", type=_positive_int, default=1,
        help="models proved in parallel by a local Dask cluster of JOBS workers (default 1: in this process)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help=f"run the models on the Dask cluster at ADDRESS (default ${execution.SCHEDULER_ENV} if set)",
    )
    parser.add_argument("--subset", type=_positive_int, default=None, help="only the first N models")
    parser.add_argument(
        "--strategy", action="append", default=None,
        help="strategy, family prefix or 'all' (repeatable; default all; brute force always runs)",
    )
    parser.add_argument(
        "--seeds-file", type=Path, default=None,
        help="model order: one seed per line (default zoo/seeds.txt; unlisted models follow by name)",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run_report(args: argparse.Namespace) -> int:
    """``zoo report``: every strategy on every model, checked; write the results, table and figures."""
    try:
        seeds_file = args.seeds_file or DEFAULT_SEEDS_FILE
        seeds = read_seeds_file(seeds_file) if args.seeds_file or seeds_file.exists() else []
        selected = None if args.strategy is None else cp.resolve_strategies(args.strategy)
        cp.resolve_device(args.device)  # refused here, in one line, if this machine cannot have it
        if args.jobs != 1 and args.scheduler is not None:
            raise ValueError("--jobs starts a local cluster and --scheduler names a running one: give one of them")
        paths = report.zoo_models(args.models, seeds, args.subset)
        with execution.open_executor(min(args.jobs, len(paths)), args.scheduler) as executor:
            reports = report.run_report(
                paths, args.out, selected=selected, device=args.device, executor=executor,
                show_progress=False if args.no_progress else None,
            )
        paths = [args.out / "results.csv", *report_figures.write_summaries(args.out, reports)]
    except (ValueError, InputError, OSError, execution.ClusterError, cp.RequestError) as error:
        raise UsageError(str(error)) from None
    runs = [run for model in reports for run in model.runs]
    statuses = Counter(run.verdict.status for run in runs)
    reused = sum(run.reused for run in runs)
    print(
        f"{len(reports)} models x {len(runs) // len(reports)} strategies: "
        + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        + f"; {len(runs) - reused} proved, {reused} certificates reused"
    )
    for path in paths:
        print(path)
    return 0 if statuses.keys() == {"VALID"} else 1


def _configure_summary(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``zoo summary``."""
    parser.add_argument(
        "reports", nargs="+", type=Path, metavar="REPORT", help="zoo report directories (each with results.csv)"
    )
    parser.add_argument("--out", type=Path, required=True, help="the summary (markdown) to write")


def _run_summary(args: argparse.Namespace) -> int:
    """``zoo summary``: one table across the settings of the given reports."""
    try:
        report_summary.write_summary([directory / "results.csv" for directory in args.reports], args.out)
    except (ValueError, KeyError, OSError) as error:
        raise UsageError(str(error)) from None
    print(args.out)
    return 0


SUBCOMMANDS: dict[str, Subcommand] = {
    "train": Subcommand("train models of the zoo (skips those already trained)", _configure_train, _run_train),
    "demo": Subcommand(
        "prove and check every implemented strategy on the shipped seed-123 model", _configure_demo, _run_demo
    ),
    "report": Subcommand(
        "prove and check every strategy on every model: results.csv, table.md, pareto.png, eqke-errors.md",
        _configure_report, _run_report,
    ),
    "summary": Subcommand(
        "one table across settings from zoo reports, beside the paper's figures", _configure_summary, _run_summary
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``zoo`` parser with one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = _Parser(prog="zoo", description="Build and inspect the Max-of-K model zoo.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, subcommand in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=subcommand.help, description=subcommand.help)
        subcommand.configure(subparser)
        subparser.set_defaults(run=subcommand.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``zoo``; return the exit code (2 for bad input, with one line on stderr)."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UsageError as error:
        print(f"zoo: error: {one_line(str(error))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
