"""Where a command will write, checked before anything costly starts: the run (or sweep)
directory and gantrain-sample's out=. A path under a plain file, or in a folder nobody may
write to, is one line naming the path and the fix instead of a traceback from Hydra's mkdir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import cast

from omegaconf import OmegaConf

from gantrain.config import conf_dir, split_args
from gantrain.errors import UserError

# Hydra modes that print or inspect and create no output directory
_NO_OUTPUT = (
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
    "--help",
    "-h",
    "--hydra-help",
)


def literal_part(value: str) -> Path:
    """The folder that the text before the first ${...} certainly names: for
    outputs/${now:%Y-%m-%d} that is outputs; for runs/exp_${now:%H} it is runs (exp_... is only
    the start of a name)."""
    head, interpolated, _ = value.partition("${")
    if not interpolated:
        return Path(head)
    if head.endswith(("/", os.sep)):
        return Path(head)
    return Path(head).parent


def first_existing(path: Path) -> Path:
    """path itself or its nearest ancestor that exists (relative paths from the working folder)."""
    path = Path(os.path.abspath(path.expanduser()))
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor)


def check_writable(path: Path, key: str, shown: str | None = None) -> None:
    """path can become a folder of ours: its first existing ancestor is a folder we may write
    to. shown: the value as the user gave it (interpolations and all), for the message."""
    shown = str(path) if shown is None else shown
    found = first_existing(path)
    if not found.is_dir():
        raise UserError(
            f"{key}={shown} lies under {found}, which is a file, not a folder: give {key} a "
            "path under a folder (or move that file away)"
        )
    reason = None if os.access(found, os.W_OK | os.X_OK) else "no permission to write"
    if reason is None:  # access() says yes to root everywhere: a folder made and removed is sure
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".gantrain-probe-", dir=found))
        except OSError as err:
            reason = (err.strerror or str(err)).lower()
    if reason is not None:
        raise UserError(
            f"{key}={shown}: cannot create folders in {found} ({reason}): give {key} a path "
            "under a folder you can write to"
        )


def _given(overrides: list[str], key: str) -> str | None:
    """The last value given to key on the command line, as text; None when not given."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in reversed(OverridesParser.create().parse_overrides(overrides)):
        if override.key_or_group == key and not override.is_delete():
            return str(override.value())
    return None


def check_run_places(args: list[str]) -> None:
    """The directory a gantrain command line will write to (hydra.run.dir, or hydra.sweep.dir
    for -m) can be created; raises UserError in one line when it cannot."""
    flags, overrides = split_args(args)
    if set(flags) & set(_NO_OUTPUT):
        return
    multirun = bool({"-m", "--multirun"} & set(flags))
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    value = _given(overrides, key)
    if value is None:  # the shipped default (conf/train.yaml), read as text: ${now:...} stays
        shipped = cast(dict, OmegaConf.to_container(OmegaConf.load(conf_dir() / "train.yaml")))
        value = shipped.get("hydra", {}).get(key.split(".")[1], {}).get("dir")
        if value is None:
            return
    check_writable(literal_part(value), key, shown=value)
