"""The package layout is the architecture: arrows run downwards only and nothing imports in a
circle. Read from the source (every import, module-level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import gantrain

ROOT = Path(gantrain.__file__).parent
# commands -> training -> (the domains) -> the foundation
LAYERS = {
    "commands": 0,
    "__main__": 0,
    "serve": 0,
    "training": 1,
    "data": 2,
    "models": 2,
    "objectives": 2,
    "record": 2,
    "hardware": 2,
    "metrics": 2,
    "config": 3,
    "errors": 3,
    "files": 3,
    "schema": 3,
    "kinds": 3,
    "saved_config": 3,
    "slots": 3,
    "upgrade": 3,
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
