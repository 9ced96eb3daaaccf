"""The package layout is the architecture: arrows run downwards only and nothing imports in a
circle. Read from the source (every import, module-level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import tomllib

import gantrain

ROOT = Path(gantrain.__file__).parent
# commands -> cli -> training -> (the domains) -> the foundation
LAYERS = {
    "commands": 0,
    "__main__": 0,
    "serve": 0,
    "cli": 1,
    "training": 2,
    "data": 3,
    "models": 3,
    "objectives": 3,
    "record": 3,
    "hardware": 3,
    "metrics": 3,
    "config": 4,
    "errors": 4,
    "files": 4,
    "schema": 4,
    "kinds": 4,
    "saved_config": 4,
    "slots": 4,
    "upgrade": 4,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_every_module_has_a_layer():
    assert all(layer(m) is not None for m in import_graph() if m != "gantrain")


def test_imports_run_downwards_only():
    upward = [
        f"{a} -> {b}"
        for a, targets in import_graph().items()
        for b in targets
        if layer(a) is not None and layer(b) is not None and layer(b) < layer(a)
    ]
    assert upward == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_no_module_imports_in_a_circle():
    assert _cycle(import_graph()) is None


def test_no_two_folders_import_each_other():
    folders: dict[str, set[str]] = {}
    for a, targets in import_graph().items():
        for b in targets:
            fa, fb = a.split(".")[1:2], b.split(".")[1:2]
            if fa and fb and fa != fb:
                folders.setdefault(fa[0], set()).add(fb[0])
    assert _cycle(folders) is None


def test_a_circle_is_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_commands_holds_exactly_the_console_scripts():
    """commands/ is the list of what a user runs: one module per [project.scripts] entry, and
    what they share lives in cli/."""
    pyproject = ROOT.parent.parent / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["scripts"]
    named = {target.split(":")[0] for target in scripts.values()}
    assert all(n.startswith("gantrain.commands.") for n in named), named
    modules = {f"gantrain.commands.{p.stem}" for p in (ROOT / "commands").glob("*.py")}
    assert modules - {"gantrain.commands.__init__"} == named
    assert not [p for p in (ROOT / "commands").iterdir() if p.is_dir() and p.name != "__pycache__"]
