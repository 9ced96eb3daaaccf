"""docs/runs.md's hostile-input promises and the tests marked with them are the same list: a
promise no test checks, or a test that checks a promise the page does not make, fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def documented() -> list[str]:
    text = (ROOT / "docs" / "runs.md").read_text()
    section = text.split("## Hostile input: what is promised", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- \*\*([a-z-]+)\*\* —", section, flags=re.M)


def marked() -> dict[str, list[str]]:
    """promise name -> the tests marked @pytest.mark.promise(name), read from the source."""
    found: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and ast.unparse(deco.func) == "pytest.mark.promise"
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                ):
                    found.setdefault(deco.args[0].value, []).append(f"{path.name}::{node.name}")
    return found


def test_every_promise_is_checked_and_every_check_is_promised():
    promises, checks = documented(), marked()
    assert len(promises) >= 8 and len(set(promises)) == len(promises)
    assert sorted(checks) == sorted(promises), (
        f"documented but unchecked: {sorted(set(promises) - set(checks))}; "
        f"checked but undocumented: {sorted(set(checks) - set(promises))}"
    )


def test_the_promise_tests_are_in_the_slow_suite():
    for tests in marked().values():
        for name in tests:
            module = next((ROOT / "tests").rglob(name.split("::")[0]))
            source = module.read_text()
            assert "pytestmark = pytest.mark.slow" in source or (
                f"@pytest.mark.slow\ndef {name.split('::')[1]}(" in source
            ), f"{name} checks a promise but is not in pytest -m slow"
