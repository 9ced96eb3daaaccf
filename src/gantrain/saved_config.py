"""A config read back from a run (a checkpoint's config, a run's .hydra/overrides.yaml) is data:
each node may name only what gantrain's own configs put in its slot (slots.py), it may not
reach the environment or the file system through an interpolation, and nothing in it fetches,
downloads or writes unless the command line of the user running the command says so. Every
reader checks it here before anything is built or composed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from gantrain.config import conf_dir
from gantrain.errors import UserError
from gantrain.slots import described, held_by, slots

# a reference to another key, ${model.width} or ${..width}: no resolver, so nothing outside the
# config is read; ${oc.env:HOME}, ${hydra:...} and every other resolver have a colon
_NODE_REF = re.compile(r"\$\{([\w.\-\[\]]*)\}")
_MAX_SHOWN = 80


def registered_targets() -> frozenset[str]:
    """Every `_target_` some slot of a saved config may hold (slots.py)."""
    return frozenset().union(*slots().values())


def _shown(value) -> str:
    """A value as the command line writes it, cut to _MAX_SHOWN characters."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _target_problem(node: dict, path: str, slot: str) -> str | None:
    """Why node's _target_ may not stand at slot; None when the slot holds it."""
    target = node["_target_"]
    if isinstance(target, str) and target in held_by(slot):
        return None
    key = f"{path}._target_" if path else "_target_"
    if isinstance(target, str) and target in registered_targets():
        return f"{key}={_shown(target)} is not what {slot} holds: {described(slot)}"
    return (
        f"{key}={_shown(target)} is not one of gantrain's own classes or functions; "
        f"{described(slot)}"
    )


def _text_problem(text: str, path: str, node_refs: bool) -> str | None:
    """Why a key or value may not be read back: an interpolation (a resolver, for overrides,
    or a reference to Hydra's settings, which a run's config does not hold)."""
    refs = _NODE_REF.findall(text) if node_refs else []
    if any(ref.split(".")[0] == "hydra" for ref in refs):
        return (
            f"{path} refers to Hydra's own settings (${{hydra...}}), which a run's config does "
            "not hold; give the value itself"
        )
    if "${" not in (_NODE_REF.sub("", text) if node_refs else text):
        return None
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


def _problem(node, path: str, slot: str, node_refs: bool, whole: bool) -> str | None:
    """The first thing in node a saved config may not hold, as words; None when all is data.
    slot: where node sits in a composed config; whole: node is a whole saved config, so a slot
    that gantrain's configs always build must hold a node with one of its targets."""
    if whole and slot in slots() and not (isinstance(node, dict) and "_target_" in node):
        return f"{path} is not a config node with a _target_: {described(slot)}"
    if isinstance(node, dict):
        if "_target_" in node:
            found = _target_problem(node, path, slot)
            if found:
                return found
        for key, value in node.items():
            inner = f"{path}.{key}" if path else str(key)
            found = _text_problem(str(key), inner, node_refs) or _problem(
                value, inner, f"{slot}.{key}" if slot else str(key), node_refs, whole
            )
            if found:
                return found
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found = _problem(value, f"{path}[{i}]", f"{slot}[{i}]", node_refs, whole)
            if found:
                return found
    elif isinstance(node, str):
        return _text_problem(node, path, node_refs)
    return None


def check_saved(node, source, path: str = "config") -> None:
    """Refuse, in one line naming source (the file), a saved config that sets Hydra's own
    settings, or whose nodes name a target their slot does not hold (slots.py) at any depth
    (also under _args_ and _partial_), or that holds an interpolation. Called before anything
    in it is built."""
    found: str | None
    if isinstance(node, dict) and "hydra" in node:
        found = (
            f"{path}.hydra holds Hydra's own settings (its logging, search path and callbacks "
            "run code), which a checkpoint gantrain writes never holds"
        )
    else:
        found = _problem(node, path, "", node_refs=False, whole=True)
    if found:
        raise UserError(
            f"{source}: {found}; nothing in it was built: use a checkpoint gantrain wrote"
        )


# a value that names a place to fetch from: http://, s3://, gs://, ... (file:// is a local path)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _reaches(key: str, value) -> str | None:
    """What a value does beyond reading local files, as words; None for plain data."""
    last = key.rsplit(".", 1)[-1]
    if last == "download" and value is True:
        return "downloads into the dataset's root"
    if last == "tracking_uri" and value is not None:
        return "names a tracking store, which is created or contacted"
    if isinstance(value, str) and _URL.match(value) and not value.startswith("file://"):
        return "is a URL, which is fetched"
    return None


def reaching(node, path: str = "") -> tuple[str, object, str] | None:
    """(key, value, why) of the first value in node that fetches, downloads or writes
    (a URL, download=true, a tracker's store); None when there is none."""
    if isinstance(node, dict):
        items = [(f"{path}.{k}" if path else str(k), v) for k, v in node.items()]
    elif isinstance(node, (list, tuple)):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(node)]
    else:
        why = _reaches(path, node)
        return (path, node, why) if why else None
    for key, value in items:
        found = reaching(value, key)
        if found:
            return found
    return None


def _hub_name(saved: dict, root) -> tuple[str, object, str] | None:
    """dataset=hf loads a root that is no local file or folder from the Hugging Face Hub."""
    if saved.get("_target_") != "gantrain.data.hf.load" or not isinstance(root, str):
        return None
    if Path(root).expanduser().exists():
        return None
    return "config.dataset.root", root, "is no local path: it would come from the Hugging Face Hub"


def saved_data_config(saved: dict, given: dict, source) -> tuple[dict, str | None]:
    """A run's saved dataset node with the command line's dataset.* keys (given) on top, and the
    one line that refuses building it, or None. A download comes only from the command line
    (dataset.download=true): the saved value is dropped. A URL (dataset.root=https://...) that
    the command line does not set itself is refused, naming source."""
    kept = {k: v for k, v in saved.items() if k not in given and k != "download"}
    refused = None
    found = reaching(kept, "config.dataset") or _hub_name(saved, kept.get("root"))
    if found:
        key, value, why = found
        short = key.removeprefix("config.")
        refused = (
            f"{source}: {key}={_shown(value)} {why}; a saved config fetches nothing: give "
            f"{short}=... on the command line (that value, or a local copy)"
        )
    download = {"download": False} if "download" in saved else {}
    return {**saved, **download, **given}, refused


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


def _moved_option(key: str, value, package: str) -> str | None:
    """A group option placed at another package (objective/critic@model=image): its file's
    targets checked at the slot they would land at."""
    for option in value if isinstance(value, list) else [value]:
        file = conf_dir() / key / f"{option}.yaml"
        if isinstance(option, str) and file.is_file():
            content = yaml.safe_load(file.read_text(encoding="utf-8"))
            found = _problem(content, f"{key}@{package}={option}", package, True, False)
            if found:
                return found
    return None


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
    if is_group and override.package is not None:
        return _moved_option(key, value, override.package)
    return _problem(_nested(key, value), "", "", node_refs=True, whole=False)


def _unrepeated_reach(line: str, given: set[str]) -> str | None:
    """Why a saved override would fetch, download or write, unless this command line sets the
    same key (given: the keys it sets), so that the saved value is not used."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_override(line)
    key = override.key_or_group
    found = reaching(_nested(key, override.value()))
    if found is None or any(found[0] == k or found[0].startswith(k + ".") for k in given):
        return None
    where, value, why = found
    return (
        f"the saved override {where}={_shown(value)} {why}; a run's saved overrides fetch, "
        f"download and write nothing: give {where}=... on this command line to keep it"
    )


def _saved_hub(overrides: list[str], given: Sequence[str]) -> str | None:
    """A saved dataset.root that dataset=hf would fetch from the Hub, unless given sets it."""
    saved, now = (
        {k.lstrip("+~"): v for k, _, v in (o.partition("=") for o in lines)}
        for lines in (overrides, given)
    )
    if "dataset.root" in now or {**saved, **now}.get("dataset") != "hf":
        return None
    found = _hub_name({"_target_": "gantrain.data.hf.load"}, saved.get("dataset.root"))
    if found is None:
        return None
    return (
        f"the saved override dataset.root={_shown(found[1])} {found[2]}; give "
        "dataset.root=... on this command line to keep it"
    )


def check_overrides(overrides: list[str], source, given: Sequence[str] = ()) -> None:
    """Refuse, in one line naming source (the run's overrides.yaml), a saved override that sets a
    `_target_` its slot does not hold (slots.py), reads the environment or files through a
    resolver (${oc.env:...}), changes Hydra's own settings, or is not a plain key=value; or
    one that fetches, downloads or writes (a URL, download=true, a tracker's store) unless
    this command line (given) sets that key itself. Called before Hydra composes anything."""
    keys = {g.split("=", 1)[0].lstrip("+~") for g in given if "=" in g}
    for line in [*overrides, None]:
        found = (
            _saved_hub(overrides, given)
            if line is None
            else (_override_problem(line) or _unrepeated_reach(line, keys))
        )
        if found:
            raise UserError(
                f"{source}: {found}; nothing was run: remove that line from the file, or start "
                "a new run"
            )
