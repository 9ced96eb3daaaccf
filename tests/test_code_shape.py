"""The code's shape, read from the source: no function body over 60 lines and no source file
over 360 (as ruff format lays code out: a long signature takes a line a parameter), so that each
reads on one screen or two. Ruff's complexity rules (pyproject.toml) bound branches, statements
and parameters."""

from __future__ import annotations

import ast
from pathlib import Path

import gantrain

ROOT = Path(gantrain.__file__).parent
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 360


def test_no_function_body_is_longer_than_sixty_lines():
    long = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.body[0].lineno + 1  # the body, docstring on
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_source_file_is_longer_than_the_bound():
    long = [
        f"{p.relative_to(ROOT)} ({n})"
        for p in sorted(ROOT.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    ]
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"
