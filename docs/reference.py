"""Writes docs/configuration-keys.md: every key gantrain's training command reads, from the
schema (its kind and range), the shipped configs (its default, the group options that hold it)
and the comment above it in conf/ (its sentence).

    python docs/reference.py            # rewrite the page
    python docs/reference.py --check    # exit 1 when the page is stale or a key has no sentence

tests/test_docs.py runs the check, so a key added without a sentence fails CI.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "configuration-keys.md"
# groups whose options each contribute keys; (group folder, the key path it fills)
GROUPS = [
    ("model", "model"),
    ("objective", "objective"),
    ("objective/critic", "objective.critic"),
    ("dataset", "dataset"),
    ("device", "device"),
    ("trainer", "trainer"),
    ("logger", "logger"),
    ("schedule", "schedule"),
]
# an option that composes only beside another choice (the objective's critic needs a pair)
BESIDE = {"objective=mle": ["model=vae"], "objective/critic=code": ["model=ae"]}
_KEY = re.compile(r"^(\s*)([A-Za-z_][\w]*):(.*)$")
_REF = re.compile(r"^\$\{([\w.]+)\}$")


def sentences_in(path: Path, prefix: str) -> dict[str, str]:
    """dotted key -> the comment block right above it (or after it on its line) in one YAML file.
    prefix: where the file's keys sit in the composed config ("model", or "" for train.yaml)."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    comment: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            comment = [] if text.startswith("@package") else [*comment, text]
            continue
        match = _KEY.match(line)
        if not match:
            comment = [] if not stripped.startswith("-") else comment
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([p for p in [prefix] if p] + [k for _, k in stack] + [key])
        inline = rest.split(" #", 1)[1].strip() if " #" in rest else ""
        words = " ".join([*comment, inline]).strip()
        if words:
            found[dotted] = words
        comment = []
        stack.append((indent, key))
    return found


def all_sentences() -> dict[str, str]:
    conf = ROOT / "conf"
    out = sentences_in(conf / "train.yaml", "")
    for folder, prefix in GROUPS:
        for path in sorted((conf / folder).glob("*.yaml")):
            for key, words in sentences_in(path, prefix).items():
                out.setdefault(key, words)
    return out


@dataclass
class Row:
    kind: str
    defaults: dict[str, str] = field(default_factory=dict)  # option (or "") -> default as typed
    source: str | None = None


def _typed(value) -> str:
    from gantrain.schema import _shown

    return _shown(value)


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from gantrain.config import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("train", overrides=overrides)


def collect() -> dict[str, Row]:
    """Every key of every group option: its kind and range, and its default per option."""
    from gantrain.schema import describe
    from gantrain.training.keys import schema

    checker = schema()
    rows: dict[str, Row] = {}
    runs: list[tuple[str, list[str]]] = [("", [])]
    for folder, _ in GROUPS:
        for path in sorted((ROOT / "conf" / folder).glob("*.yaml")):
            choice = f"{folder}={path.stem}"
            runs.append((choice, [*BESIDE.get(choice, []), choice]))
    for choice, overrides in runs:
        cfg = _compose(overrides)
        group_path = dict(GROUPS).get(choice.split("=")[0], "") if choice else ""
        deeper = [p for _, p in GROUPS if p.startswith(group_path + ".")] if choice else []
        for leaf in checker.leaves(cfg):
            if choice and not leaf.key.startswith(group_path + "."):
                continue  # the rest is the base config, listed under ""
            if any(leaf.key.startswith(p + ".") for p in deeper):
                continue  # a group of its own (objective.critic), listed with its options
            row = rows.setdefault(leaf.key, Row(describe(leaf.param.kind)))
            row.defaults.setdefault(choice, _typed(leaf.value))
            row.source = row.source or leaf.source
    return rows


def _defaults_cell(row: Row) -> str:
    plain = row.defaults.get("")
    options = {c: v for c, v in row.defaults.items() if c}
    if row.source:
        return f"= `{row.source}`"
    if not options:
        return f"`{plain}`"
    values = set(options.values())
    if len(values) == 1:
        return f"`{values.pop()}`"
    return "<br>".join(f"`{c.split('=')[1]}`: `{v}`" for c, v in sorted(options.items()))


def _groups_cell(row: Row) -> str:
    options = sorted(c for c in row.defaults if c)
    if not options:
        return "always"
    group = options[0].split("=")[0]
    names = [c.split("=")[1] for c in options]
    everywhere = sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))
    return f"`{group}`: all" if names == everywhere else f"`{group}=` " + ", ".join(names)


def render(rows: dict[str, Row], sentences: dict[str, str]) -> tuple[str, list[str]]:
    """The page's Markdown, and the keys that have no sentence."""
    missing = []
    lines = [
        "# Configuration keys",
        "",
        "Every key `gantrain` reads, generated from the schema and the comments in `conf/`",
        "by `python docs/reference.py` (a test fails when this page is stale or a key has no",
        "sentence). Set any key on the command line: `gantrain trainer.rounds=2000`.",
        "*Default* is the shipped value (per option where the options differ; `= key` follows",
        "another key); *kind* is what the schema accepts, checked before anything runs.",
        "",
    ]
    sections: dict[str, list[str]] = defaultdict(list)
    for key in sorted(rows):
        row = rows[key]
        words = sentences.get(key)
        if words is None and row.source:
            words = f"Follows `{row.source}`."
        if words is None:
            missing.append(key)
            words = ""
        top = key.split(".")[0] if "." in key else "(top level)"
        cell = words.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        sections[top].append(
            f"| `{key}` | {_defaults_cell(row)} | {row.kind} | {_groups_cell(row)} | {cell} |"
        )
    for top in sorted(sections, key=lambda s: (s != "(top level)", s)):
        lines += [
            f"## {top}",
            "",
            "| key | default | kind | in | what it does |",
            "|---|---|---|---|---|",
        ]
        lines += [*sections[top], ""]
    return "\n".join(lines + old_names()), missing


def old_names() -> list[str]:
    """The section listing renamed keys, from the table that keeps them working."""
    from gantrain.upgrade import BECAME_NODES, RENAMED

    lines = [
        "## Old names",
        "",
        "Keys renamed since they were introduced. Each old name still works on the command line,",
        "in a sweep and in a saved run, with one log line naming the new one.",
        "",
        "| old | now |",
        "|---|---|",
    ]
    lines += [f"| `{old}` | `{new}` |" for old, new in RENAMED.items()]
    lines += [f"| `{key}=VALUE` | `{key}.{inner}=VALUE` |" for key, inner in BECAME_NODES.items()]
    return [*lines, ""]


def main(argv: list[str]) -> int:
    text, missing = render(collect(), all_sentences())
    if "--check" in argv:
        stale = not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text
        for key in missing:
            print(f"{key}: no comment above it in conf/ (add one sentence saying what it does)")
        if stale:
            print(f"{PAGE.relative_to(ROOT)} is stale: run python docs/reference.py")
        return 1 if (missing or stale) else 0
    PAGE.write_text(text, encoding="utf-8")
    keys = text.split("## Old names")[0].count("\n| `")
    print(f"wrote {PAGE.relative_to(ROOT)}: {keys} keys, {len(missing)} without a sentence")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
