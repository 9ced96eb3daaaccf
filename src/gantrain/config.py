"""Where the configs live, and the checks on a command line before Hydra composes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gantrain.errors import UserError


def conf_dir() -> Path:
    """The wheel carries conf/ inside the package; an editable install reads the repository's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parents[1] / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"gantrain's conf/ is missing (looked in {here / 'conf'})")


# Hydra flags that take a value in the next argument
_VALUE_FLAGS = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
    "--info",
    "-i",
}


def override_key(arg: str) -> str:
    """The key an override sets: `+a.b=1`, `~a.b` and `a.b=1` all set a.b."""
    return arg.split("=", 1)[0].lstrip("+~")


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(flags with their values, key=value overrides), so overrides can be edited and re-joined
    as flags first: argparse takes no positional after an option's value."""
    flags, overrides = [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            flags.append(arg)
            nxt = args[i + 1] if i + 1 < len(args) else None
            if (
                arg in _VALUE_FLAGS
                and nxt is not None
                and "=" not in nxt
                and not nxt.startswith("-")
            ):
                flags.append(nxt)
                i += 1
        else:
            overrides.append(arg)
        i += 1
    return flags, overrides


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def plain(node: DictConfig) -> dict[str, Any]:
    """A config node as plain dicts and lists, interpolations resolved."""
    out = OmegaConf.to_container(node, resolve=True)
    assert isinstance(out, dict), node
    return out  # type: ignore[return-value]  # a DictConfig's keys are strings here


def build(node, **kwargs):
    """hydra.utils.instantiate, with a UserError raised inside a constructor passed through bare."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise
