"""A config read back from a run (a checkpoint's config, a run's .hydra/overrides.yaml) is data:
it may name only the classes and functions gantrain's own configs name, and it may not reach
the environment or the file system through an interpolation. Every reader checks it here
before anything is built or composed."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from gantrain.config import conf_dir
from gantrain.errors import UserError

# classes and functions that moved: a checkpoint's saved config names them by their old homes
MOVED = {
    "gantrain.trainer.Trainer": "gantrain.training.trainer.Trainer",
    "gantrain.data.torchvision_sets.load_celeba": "gantrain.data.celeba.load",
}
# targets the code accepts beyond those conf/ names: the optimizers the schema's stand-ins state
# (gantrain.objectives.optimizers.STAND_INS; a test keeps the two lists equal)
CODE_TARGETS = ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.SGD")
# a reference to another key, ${model.width} or ${..width}: no resolver, so nothing outside the
# config is read; ${oc.env:HOME}, ${hydra:...} and every other resolver have a colon
_NODE_REF = re.compile(r"\$\{[\w.\-\[\]]*\}")
_MAX_SHOWN = 80


def _targets_in(node) -> set[str]:
    if isinstance(node, dict):
        found = {str(v) for k, v in node.items() if k == "_target_" and isinstance(v, str)}
        return found.union(*(_targets_in(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_targets_in(v) for v in node))
    return set()


@lru_cache(maxsize=1)
def registered_targets() -> frozenset[str]:
    """Every `_target_` a saved config may name: those in the conf/**/*.yaml shipped with
    gantrain, their old names and new homes (MOVED), and the optimizers the code accepts."""
    found = set(CODE_TARGETS) | set(MOVED) | set(MOVED.values())
    for path in sorted(conf_dir().rglob("*.yaml")):
        found |= _targets_in(yaml.safe_load(path.read_text(encoding="utf-8")))
    return frozenset(found)


def _shown(value) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _problem(node, path: str, node_refs: bool) -> str | None:
    """The first thing in node a saved config may not hold, as words; None when all is data."""
    if isinstance(node, dict):
        target = node.get("_target_")
        if "_target_" in node and (
            not isinstance(target, str) or target not in registered_targets()
        ):
            key = f"{path}._target_" if path else "_target_"
            return (
                f"{key}={_shown(target)} is not one of gantrain's own classes or functions; "
                "a saved config builds only those (the ones gantrain's conf/ names)"
            )
        for key, value in node.items():
            inner = f"{path}.{key}" if path else str(key)
            found = _problem(str(key), inner, node_refs) or _problem(value, inner, node_refs)
            if found:
                return found
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found = _problem(value, f"{path}[{i}]", node_refs)
            if found:
                return found
    elif isinstance(node, str) and "${" in (_NODE_REF.sub("", node) if node_refs else node):
        # the value is not shown: what it would read is nobody's business
        if node_refs:
            return (
                f"{path} uses a resolver ('${{name:...}}'); a run's saved overrides may refer to "
                "other keys but not read the environment or files"
            )
        return (
            f"{path} holds an interpolation ('${{...}}'); a saved config is stored resolved, so "
            "it may not read the environment or files"
        )
    return None


def check_saved(node, source, path: str = "config") -> None:
    """Refuse, in one line naming source (the file), a saved config node that names a target
    outside gantrain's registry at any depth (also under _args_ and _partial_) or holds an
    interpolation. Called before anything in it is built."""
    found = _problem(node, path, node_refs=False)
    if found:
        raise UserError(
            f"{source}: {found}; nothing in it was built: use a checkpoint gantrain wrote"
        )


def read_overrides(path: Path) -> list[str]:
    """A run's .hydra/overrides.yaml as its list of key=value strings (plain YAML: nothing in it
    is built); a file that is not such a list is refused in one line."""
    try:
        found = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        reason = " ".join(str(err).split())[:_MAX_SHOWN]
        raise UserError(f"{path} cannot be read ({reason}); it should be a YAML list") from None
    found = found or []
    if not isinstance(found, list) or not all(isinstance(o, str) for o in found):
        raise UserError(
            f"{path} is not a list of key=value overrides as Hydra writes it; restore it or "
            "remove it"
        )
    return found


def _nested(key: str, value) -> dict:
    """a.b.c=v as {"a": {"b": {"c": v}}}, so an override is checked like the node it sets."""
    node = value
    for part in reversed(key.split(".")):
        node = {part: node}
    return node


def _override_problem(line: str) -> str | None:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    subject = f"the saved override {_shown(line.split('=', 1)[0])!r}"
    if line.lstrip().startswith("-"):
        return f"{subject} is a command-line flag, not a key=value override"
    try:
        override = OverridesParser.create().parse_override(line)
    except HydraException:
        return f"{subject} is not a key=value override Hydra can read"
    key = override.key_or_group
    # Hydra keeps its own settings (hydra.*, hydra/...) out of the overrides it saves for a run
    if key.split("/")[0].split(".")[0] == "hydra":
        return (
            f"{subject} sets Hydra's own settings (its logging, search path and callbacks run code)"
        )
    if override.is_sweep_override():
        return f"{subject} is a sweep; a run's overrides hold one value each"
    value = override.value()
    is_group = "." not in key and (conf_dir() / key).is_dir()
    if is_group and isinstance(value, str) and ("/" in value or "\\" in value or ".." in value):
        return f"{subject} chooses {key}={_shown(value)}, a path, not one of the {key} options"
    return _problem(_nested(key, value), "", node_refs=True)


def check_overrides(overrides: list[str], source) -> None:
    """Refuse, in one line naming source (the run's overrides.yaml), a saved override that sets a
    `_target_` outside gantrain's registry, reads the environment or files through a resolver
    (${oc.env:...}), changes Hydra's own settings, or is not a plain key=value. Called before
    Hydra composes anything."""
    for line in overrides:
        found = _override_problem(line)
        if found:
            raise UserError(
                f"{source}: {found}; nothing was run: remove that line from the file, or start "
                "a new run"
            )
