"""`prove MODEL --strategy NAME [--out PATH]`: search for a proof and write its certificate.

`prove MODEL --shards DIR [--shard-depth J] [--jobs N | --scheduler ADDRESS]`: brute force in shards
(:mod:`prover.shards`), one certificate per shard in DIR, each proved and checked as one task of the
execution layer (:mod:`prover.execution`: this process, N local Dask workers, or a running Dask cluster);
a rerun re-checks the certificates it finds and proves only the rest. It ends with the checker's verdict
on the set, combined from the shard verdicts; ``check --shards DIR`` re-checks the set here.

The model is read as the checker reads it (:func:`compact_proofs.load_model`, default size limits).
Exit codes: 0 success; 1 a shard set whose combined verdict is not VALID; 2 bad input (missing or
unsupported model, unknown strategy, unusable device or output path, unreachable scheduler), with one
line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import compact_proofs as cp
from certificates.errors import InputError
from prover.eqke_errors import eqke_error_rows, format_rows
from prover.execution import SCHEDULER_ENV, ClusterError

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A bad command line (exit 2)."""


def list_strategies() -> None:
    rows = [(s.name, s.family, s.complexity) for s in cp.strategies()]
    width = max(len(r[0]) for r in rows)
    family_width = max(len(r[1]) for r in rows)
    for name, family, complexity in rows:
        print(f"{name:<{width}}  {family:<{family_width}}  {complexity}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prove", description="Prove a lower bound on a model's accuracy.")
    parser.add_argument("model", nargs="?", help="model file (safetensors, TransformerLens names)")
    parser.add_argument(
        "--strategy", action="append", default=None,
        help="strategy name, family prefix (e.g. subcubic) or 'all'; repeatable (default brute-force)",
    )
    parser.add_argument("--out", help="certificate path (one strategy) or directory (default certs/<model>/)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--shards", metavar="DIR", help="brute force in shards: one certificate per shard in DIR")
    parser.add_argument(
        "--shard-depth", type=int, metavar="J",
        help="tokens fixed per shard besides the query (default: shards of at most 2^24 sequences)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N",
        help="with --shards: N local Dask worker processes (default 1: in this process)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help=f"with --shards: run on the Dask cluster at ADDRESS (default ${SCHEDULER_ENV} if set)",
    )
    parser.add_argument("--list-strategies", action="store_true", help="print every registered strategy")
    parser.add_argument(
        "--eqke-error-table", action="store_true", help="print the four EQKE error-term bounds of MODEL and exit"
    )
    args = parser.parse_args(argv)
    try:
        if args.list_strategies:
            list_strategies()
            return 0
        if args.model is None:
            raise UsageError("a MODEL path is required")
        if args.shards is not None:
            return prove_in_shards(args)
        if args.jobs != 1 or args.scheduler is not None:
            raise UsageError("--jobs and --scheduler run brute-force shards: they need --shards DIR")
        chosen = [] if args.eqke_error_table else cp.resolve_strategies(args.strategy or ["brute-force"])
        device = cp.resolve_device(args.device)
        model = cp.load_model(args.model)
        if args.eqke_error_table:
            print(format_rows(eqke_error_rows(model.weights, device)))
            return 0
        total = model.weights.d_vocab**model.weights.n_ctx
        for strategy in chosen:
            path = output_path(args.out, args.model, strategy.name, several=len(chosen) > 1)
            certificate = cp.prove(model, strategy, device)
            cp.save_certificate(path, certificate)
            print(
                f"{path}: {strategy.name} claims {certificate.claim_correct}/{total} = "
                f"{certificate.claim_correct / total:.6f} ({certificate.info['seconds']:.2f} s on {device.type})",
                flush=True,
            )
    except (UsageError, cp.RequestError, InputError, OSError, ClusterError) as error:
        print(f"prove: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def prove_in_shards(args: argparse.Namespace) -> int:
    """``prove MODEL --shards DIR``: every brute-force shard into DIR, then one summary line."""
    if args.strategy not in (None, ["brute-force"]) or args.out is not None or args.eqke_error_table:
        raise UsageError("--shards proves brute force only, into DIR (no --strategy other than brute-force, no --out)")
    model = cp.load_model(args.model)
    weights = model.weights
    if args.shard_depth is not None and not 0 <= args.shard_depth <= weights.n_ctx - 2:
        raise UsageError(f"--shard-depth must be in 0..n-2 = 0..{weights.n_ctx - 2}")
    if weights.n_ctx < 2:
        raise UsageError("brute force in shards needs n_ctx >= 2")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if args.jobs != 1 and args.scheduler is not None:
        raise UsageError("--jobs starts a local cluster and --scheduler names a running one: give one of them")
    run = cp.prove_shards(model, args.shards, args.shard_depth, args.device, jobs=args.jobs, scheduler=args.scheduler)
    verdict = run.verdict
    print(
        f"{run.directory}: brute-force in {run.shards} shards (depth {run.depth}) on {run.ran_on}: {run.proved} "
        f"proved in {run.prove_seconds:.1f} s, {run.kept} kept; every shard checked in {run.check_seconds:.1f} s; "
        + (f"VALID: claims {verdict.claimed}/{run.total} = {verdict.claimed / run.total:.6f}"
           if verdict.status == cp.VALID and verdict.claimed is not None else f"{verdict.status}: {verdict.message}")
        + f"; re-check here with: check --shards {run.directory} --model {args.model}",
        flush=True,
    )
    return 0 if verdict.status == cp.VALID else 1


def output_path(out: str | None, model: str, strategy_name: str, *, several: bool) -> Path:
    """Where a certificate goes: ``--out`` itself for one strategy, else a file inside a directory."""
    if out is not None and not several and not out.endswith("/") and not Path(out).is_dir():
        target = Path(out)
    else:
        directory = Path(out) if out is not None else Path("certs") / Path(model).stem
        target = directory / cp.certificate_filename(strategy_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


if __name__ == "__main__":
    sys.exit(main())
