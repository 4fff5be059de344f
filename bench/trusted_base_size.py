"""The size of the trusted base: lines of code of ``certificates/`` and ``checker/`` without docstrings,
comments and blank lines, per module and in total (and all lines, for comparison).

    python bench/trusted_base_size.py [DIRECTORY ...]      # default: certificates checker

A line counts when a token other than a comment, an indentation change or a line break starts or
continues on it, and it is not part of a docstring (the first statement of a module, class or function
when it is a string) or of an attribute docstring (a bare string statement).
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                  tokenize.ENDMARKER}


def docstring_lines(tree: ast.AST) -> set[int]:
    """The line numbers of every string statement (docstrings and attribute docstrings)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def code_lines(source: str) -> int:
    """Lines of code of ``source`` (module docstring)."""
    excluded = docstring_lines(ast.parse(source))
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in SKIPPED_TOKENS:
            lines.update(line for line in range(token.start[0], token.end[0] + 1) if line not in excluded)
    return len(lines)


def main() -> int:
    directories = [Path(arg) for arg in sys.argv[1:]] or [ROOT / "certificates", ROOT / "checker"]
    total_code = total_lines = 0
    for path in sorted(p for directory in directories for p in directory.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        code, lines = code_lines(source), len(source.splitlines())
        total_code, total_lines = total_code + code, total_lines + lines
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{code:6d} {lines:6d}  {shown}")
    print(f"{total_code:6d} {total_lines:6d}  total (lines of code, all lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
