"""key=value arguments of gantrain-sample and gantrain-eval, over conf/<name>.yaml."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.config import conf_dir
from gantrain.errors import UserError
from gantrain.schema import Schema, all_keys, not_a_key

PATH_KEYS = ("run_dir", "checkpoint", "out", "inception_weights", "dataset.root")
_ABSENT = object()


def parse_args(args: list[str], name: str, schema: Schema) -> DictConfig:
    """key=value arguments over the defaults in conf/<name>.yaml, checked against the schema;
    keys under dataset. override the run's dataset config and are checked once it is loaded.
    Paths stay the text given (YAML would read 12:00:00 as a number)."""
    defaults = OmegaConf.load(conf_dir() / f"{name}.yaml")
    OmegaConf.set_struct(defaults, True)  # a misspelt nested key fails instead of being ignored
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
                given = OmegaConf.merge(given, OmegaConf.from_dotlist([arg]))
        except OmegaConfBaseException as err:
            raise UserError(f"cannot read {arg!r} ({' '.join(str(err).split())})") from None
    try:
        cfg = OmegaConf.merge(defaults, given)
    except OmegaConfBaseException as err:
        raise UserError(f"cannot use the arguments ({' '.join(str(err).split())})") from None
    if not isinstance(cfg.dataset, DictConfig):
        raise UserError("dataset must be given as dataset.KEY=VALUE, e.g. dataset.root=/data")
    schema.check(cfg, shipped=defaults)
    return cfg


def run_help(args: list[str], name: str) -> bool:
    if {"-h", "--help"} & set(args):
        print((conf_dir() / f"{name}.yaml").read_text(encoding="utf-8"), end="")
        return True
    return False
