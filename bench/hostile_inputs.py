"""The hostile-input table of the README: each class of issue 11, its size, the checker's answer, wall
time and peak memory, each case measured in its own process with ``/usr/bin/time -v``.

Builds the corpus of :mod:`tests.hostile_corpus` at the issue's sizes (``full=True``) in a temporary
directory, runs ``check`` on every case and prints a Markdown table. A refusal naming the exceeded
limit is a valid answer; exit 3 or a signal never is.

    python bench/hostile_inputs.py [--small]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile_corpus import build_corpus  # noqa: E402

ANSWERS = {0: "VALID", 1: "INVALID", 2: "ERROR"}


def measure(args: tuple[str, ...]) -> tuple[int, str, float, float]:
    """Exit code, the verdict line (or the ERROR line of stderr), wall seconds and peak RSS in MB."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "checker.cli", *args],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    report = result.stderr
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", report)
    hours, minutes, seconds = (float(group or 0) for group in wall.groups())
    peak_kb = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1))
    exit_code = int(re.search(r"Exit status: (\d+)", report).group(1))
    lines = [line for line in report.splitlines() if line.startswith("check: ")]
    said = lines[0] if lines else result.stdout.strip()
    return exit_code, said, 3600 * hours + 60 * minutes + seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the test suite's sizes instead of the issue's")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        cases = build_corpus(Path(directory), full=not options.small)
        print("| class | input | size | answer | wall s | peak MB |")
        print("| --- | --- | --- | --- | --- | --- |")
        for case in cases:
            exit_code, said, seconds, megabytes = measure(case.args)
            answer = ANSWERS.get(exit_code, f"exit {exit_code}")
            detail = said.removeprefix("check: ERROR: ") if exit_code == 2 else said.split(" ", 1)[-1]
            detail = detail.replace(directory, "TMP").replace(str(ROOT) + "/", "").replace("|", "\\|")
            if len(detail) > 110:
                detail = detail[:107] + "..."
            print(f"| {case.kind} | {case.description} | {case.size / 1024:,.0f} KiB | {answer} {detail} "
                  f"| {seconds:.2f} | {megabytes:.0f} |", flush=True)


if __name__ == "__main__":
    main()
