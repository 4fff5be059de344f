"""Running the command lines in a subprocess, as a user would (shared by the CLI and trust suites)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python ARGS`` from the repository root, capturing text output."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False
    )


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The ``check`` command line."""
    return run("-m", "checker.cli", *map(str, args), env=env)


def assert_one_line_error(result: subprocess.CompletedProcess, code: int) -> None:
    """Exit ``code``, no traceback, exactly one line on stderr."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def blocking_env(directory: Path, *packages: str) -> dict[str, str]:
    """An environment in which importing any of ``packages`` (or a submodule) raises ImportError: a
    ``sitecustomize`` module written to ``directory`` puts a blocking finder first on ``sys.meta_path``."""
    (directory / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {packages!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return dict(os.environ, PYTHONPATH=f"{directory}{os.pathsep}{ROOT}")
