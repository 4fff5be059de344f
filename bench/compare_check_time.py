"""Checking time of two versions of the checker on their own certificates, alternated in one run.

    git worktree add /tmp/before 10b37ec
    python bench/compare_check_time.py MODEL --before /tmp/before BEFORE.cert --after . AFTER.cert [--rounds 5]

Runs ``python -m checker.cli --json`` from each checkout in turn (``--rounds`` times, alternating, so load
on a shared machine falls on both alike) and prints each version's times (the checker's own ``seconds``),
their medians, the ratio after / before and the FLOPs. Both must be VALID with the same certified count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path


def check(root: Path, model: Path, certificate: Path) -> dict:
    """One ``check --json`` run with the checker of the checkout at ``root``."""
    environment = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "checker.cli", "--json", "--model", str(model.resolve()),
               str(certificate.resolve())]
    result = subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, check=False)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--before", nargs=2, type=Path, required=True, metavar=("ROOT", "CERT"))
    parser.add_argument("--after", nargs=2, type=Path, required=True, metavar=("ROOT", "CERT"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    versions = {"before": args.before, "after": args.after}
    times: dict[str, list[float]] = {name: [] for name in versions}
    verdicts = {}
    for _ in range(args.rounds):
        for name, (root, certificate) in versions.items():
            verdict = check(root.resolve(), args.model, certificate)
            assert verdict["status"] == "VALID", verdict["message"]
            times[name].append(verdict["seconds"])
            verdicts[name] = verdict
    assert verdicts["before"]["certified_count"] == verdicts["after"]["certified_count"]
    for name, values in times.items():
        print(f"{name}: {' '.join(f'{value:.2f}' for value in values)} s, median {statistics.median(values):.2f} s, "
              f"{verdicts[name]['flops']:.4g} FLOPs")
    print(f"after / before: {statistics.median(times['after']) / statistics.median(times['before']):.2f}")


if __name__ == "__main__":
    main()
