"""The README's configuration table states the defaults the shipped configs compose to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import compose_cfg
from omegaconf import OmegaConf

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| (`[^|]+`) \| (.+) \|$")


def table_rows() -> list[tuple[str, str]]:
    """(first cell, second cell) of the rows under '## Configuration', up to the next heading."""
    text = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    text = text.split("\n## ", 1)[0]
    return [m.groups() for line in text.splitlines() if (m := ROW.match(line.strip()))]


def _top_level_split(text: str) -> list[str]:
    """text split at commas outside parentheses and backticks."""
    parts, depth, ticks, start = [], 0, False, 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        ticks ^= c == "`"
        if c == "," and not depth and not ticks:
            parts.append(text[start:i])
            start = i + 1
    return [p.strip() for p in [*parts, text[start:]]]


_MISSING = object()


def stated(cell: str):
    """The default a cell opens with: a `quoted` value or a YAML literal (a number, true,
    false, null); _MISSING when it opens with words (a description)."""
    if cell.startswith("`"):
        return yaml.safe_load(cell[1:].split("`", 1)[0])
    token = re.match(r"[^\s:;,(]+", cell).group(0)
    value = yaml.safe_load(token)
    return value if value is None or isinstance(value, bool | int | float) else _MISSING


def defaults() -> list[tuple[str, object]]:
    """(key, stated default) for every row that states one default per key; a key whose row
    gives a per-pair exception (`... for model=...`) states the base config's value."""
    out = []
    for keys_cell, cell in table_rows():
        keys = re.findall(r"`([^`]+)`", keys_cell)
        if any(k.endswith("=") for k in keys):  # a group: the option marked "(default"
            group = keys[0].rstrip("=")
            marked = re.findall(r"`([^`]+)` \(default", cell)
            out += [(f"group:{group}", marked[0])] if marked else []
            continue
        values = _top_level_split(cell) if len(keys) > 1 else [cell]
        if len(values) != len(keys) or any(k.startswith(".") for k in keys):
            continue
        for key, value in zip(keys, values):
            if " for `model=" not in value and (v := stated(value)) is not _MISSING:
                out.append((key, v))
    return out


def test_the_table_is_read():
    keys = [k for k, _ in defaults()]
    assert {"trainer.rounds", "trainer.batch_size", "device.amp", "seed"} <= set(keys)
    assert {"group:model", "group:device", "eval.num_samples", "eval.split"} <= set(keys)


@pytest.fixture(scope="module")
def cfg():
    return compose_cfg([])


@pytest.mark.parametrize(("key", "value"), defaults(), ids=[k for k, _ in defaults()])
def test_the_readme_states_the_composed_default(cfg, key, value):
    if key.startswith("group:"):
        assert cfg.hydra.runtime.choices[key[6:]] == value
        return
    composed = OmegaConf.select(cfg, key, default=_MISSING)
    assert composed is not _MISSING, f"{key} is not a config key"
    if OmegaConf.is_config(composed):
        composed = OmegaConf.to_container(composed, resolve=True)
    assert composed == value
