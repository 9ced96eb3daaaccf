"""key=value arguments of gantrain-sample and gantrain-eval, over conf/<name>.yaml."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.config import conf_dir, plain
from gantrain.errors import UserError, report
from gantrain.schema import Schema, all_keys, not_a_key

PATH_KEYS = ("run_dir", "checkpoint", "out", "inception_weights", "dataset.root", "src")
_ABSENT = object()


def parse_args(args: list[str], name: str, schema: Schema) -> DictConfig:
    """key=value arguments over the defaults in conf/<name>.yaml, checked against the schema;
    keys under dataset. override the run's dataset config and are checked once it is loaded.
    Paths stay the text given (YAML would read 12:00:00 as a number)."""
    defaults = cast(DictConfig, OmegaConf.load(conf_dir() / f"{name}.yaml"))  # a mapping file
    OmegaConf.set_struct(defaults, True)  # a misspelt nested key fails instead of being ignored
    if "dataset" in defaults:  # gantrain-pack, -export and -serve take no dataset
        OmegaConf.set_struct(defaults.dataset, False)
    given = OmegaConf.create()
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UserError(f"{arg!r} is not key=value; see gantrain-{name} --help")
        if (
            not key.startswith("dataset.")
            and OmegaConf.select(defaults, key, default=_ABSENT) is _ABSENT
        ):
            known = all_keys(defaults)
            raise UserError(not_a_key(key, known).split(" (+")[0])  # no + keys here
        try:
            if key in PATH_KEYS:
                OmegaConf.update(given, key, None if value in ("", "null") else value)
            else:
                given = cast(DictConfig, OmegaConf.merge(given, OmegaConf.from_dotlist([arg])))
        except OmegaConfBaseException as err:
            raise UserError(f"cannot read {arg!r} ({' '.join(str(err).split())})") from None
    try:
        cfg = cast(DictConfig, OmegaConf.merge(defaults, given))  # two DictConfigs
    except OmegaConfBaseException as err:
        raise UserError(f"cannot use the arguments ({' '.join(str(err).split())})") from None
    if "dataset" in cfg and not isinstance(cfg.dataset, DictConfig):
        raise UserError("dataset must be given as dataset.KEY=VALUE, e.g. dataset.root=/data")
    schema.check(cfg, shipped=defaults)
    return cfg


def run(name: str, schema: Schema, act: Callable[[dict], str]) -> None:
    """A key=value command's main: --help, or the checked keys (plain Python) to act, whose
    returned text is printed; a user's mistake is one line and exit 2."""
    args = sys.argv[1:]
    if run_help(args, name):
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        text = act(plain(parse_args(args, name, schema)))
    except UserError as err:
        report(err, prog=f"gantrain-{name}")
        sys.exit(2)
    print(text)


def run_help(args: list[str], name: str) -> bool:
    if {"-h", "--help"} & set(args):
        print((conf_dir() / f"{name}.yaml").read_text(encoding="utf-8"), end="")
        return True
    return False
