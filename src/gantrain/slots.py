"""What each slot of a config may hold: the key path (model, objective.critic, dataset,
objective.optimizer, ...) -> the `_target_`s gantrain's own conf/ puts at that path.

Read from the shipped conf/**/*.yaml with the package each file lands at (its group's path,
or its `# @package` header, or the `@package` a defaults list gives it), so the table cannot
drift from the configs: a new model file makes its class a model, and nothing else."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from gantrain.config import conf_dir
from gantrain.upgrade import MOVED

# targets the code accepts beyond those conf/ names: the optimizers the schema's stand-ins state
# (gantrain.objectives.optimizers.STAND_INS; a test keeps the two lists equal). A slot that
# conf/ gives one of them may hold any of them.
CODE_TARGETS = ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.SGD")
_HEADER = re.compile(r"^#\s*@package\s+(\S+)", re.MULTILINE)


def _join(package: str, key: str) -> str:
    return f"{package}.{key}" if package else key


def _package(path: Path, text: str) -> str:
    """Where a file's content lands in the composed config."""
    group = ".".join(path.relative_to(conf_dir()).parts[:-1])
    header = _HEADER.search(text)
    if header is None or header.group(1) == "_group_":
        return group
    return "" if header.group(1) == "_global_" else header.group(1)


def _walk(node, slot: str, table: dict[str, set[str]]) -> None:
    if isinstance(node, dict):
        target = node.get("_target_")
        if isinstance(target, str):
            table.setdefault(slot, set()).add(target)
        for key, value in node.items():
            if key != "_target_" and not (slot == "" and key in ("defaults", "hydra")):
                _walk(value, _join(slot, str(key)), table)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{slot}[{i}]", table)


def _placed(entry, package: str) -> list[tuple[Path, str]]:
    """A defaults-list entry `/group@pkg: option` as (the option's file, where it lands)."""
    if not isinstance(entry, dict):
        return []
    found = []
    for key, option in entry.items():
        key = str(key).removeprefix("override ").removeprefix("optional ").strip()
        if "@" not in key or not isinstance(option, str):
            continue
        group, at = key.split("@", 1)
        file = conf_dir() / group.strip("/") / f"{option}.yaml"
        if file.is_file():
            found.append((file, at if group.startswith("/") else _join(package, at)))
    return found


def _read(path: Path) -> tuple[str, object]:
    text = path.read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


@lru_cache(maxsize=1)
def slots() -> dict[str, frozenset[str]]:
    """Every slot a shipped config puts a `_target_` at -> the targets it may hold there."""
    table: dict[str, set[str]] = {}
    for path in sorted(conf_dir().rglob("*.yaml")):
        if path.relative_to(conf_dir()).parts[0] == "hydra":
            continue  # Hydra's own settings: no saved config may set them
        text, content = _read(path)
        package = _package(path, text)
        _walk(content, package, table)
        for entry in content.get("defaults", []) if isinstance(content, dict) else []:
            for file, at in _placed(entry, package):
                _walk(_read(file)[1], at, table)
    for held in table.values():
        if held & set(CODE_TARGETS):
            held |= set(CODE_TARGETS)
        held |= {old for old, new in MOVED.items() if new in held}
    return {slot: frozenset(held) for slot, held in table.items()}


def held_by(slot: str) -> frozenset[str]:
    """What slot may hold; empty where a shipped config builds nothing."""
    return slots().get(slot, frozenset())


def described(slot: str) -> str:
    """'model may hold only gantrain.models...DCGAN, ...' (old names of moved classes left out)."""
    held = sorted(held_by(slot) - set(MOVED))
    if not held:
        return f"{slot or 'the top level'} holds plain values only, no _target_"
    return f"{slot} may hold only {', '.join(held)}"
