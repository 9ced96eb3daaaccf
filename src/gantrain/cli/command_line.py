"""gantrain's command line, checked before Hydra runs: flags, group options, keys and values.

Hydra answers a misused flag with argparse's usage block or a traceback, and an unknown key
with four lines; here each is one line, and every job of a sweep is composed and checked
against the schema before the first one starts.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gantrain.config import conf_dir, options, split_args
from gantrain.errors import UserError
from gantrain.schema import Schema, all_keys, not_a_key

USER_GROUPS = (
    "model",
    "objective",
    "dataset",
    "device",
    "trainer",
    "experiment",
    "hparams_search",
    "logger",
)
MODES = ("--run", "-m", "--multirun", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")
MAX_CHECKED_JOBS = 64  # a bigger sweep's later jobs are checked as each starts


def check_flags(args: list[str]) -> None:
    """Hydra's own argument parser, with its complaints turned into one line."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def refuse(message: str):
        raise UserError(f"{message}; see gantrain --help")

    parser.error = refuse  # type: ignore[method-assign]  # argparse would print its usage and exit
    flags, _ = split_args(args)
    parsed = parser.parse_args(flags)
    modes = [
        name
        for name, on in (
            ("--run", parsed.run),
            ("--multirun", parsed.multirun),
            ("--cfg", parsed.cfg),
            ("--info", parsed.info),
            ("--shell-completion", parsed.shell_completion),
        )
        if on
    ]
    if len(modes) > 1:
        shown = [m for m in modes if m != "--multirun"][:1] or modes[-1:]
        raise UserError(
            f"{' and '.join(modes)} cannot be combined: give one of them, e.g. "
            f"`gantrain seed=0 {shown[0]}{' job' if shown[0] == '--cfg' else ''}` for one job, "
            "or `gantrain -m seed=0,1` to sweep"
        )


def _parse(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException as err:
        raise UserError(" ".join(str(err).split())) from None


def check_group_choices(overrides) -> None:
    """Refuse `model=nope` in one line before Hydra prints its multi-line search path."""
    for override in overrides:
        key = override.key_or_group
        if key not in USER_GROUPS or override.value() is None:
            continue
        values = (
            list(override.sweep_string_iterator())
            if override.is_sweep_override()
            else [override.get_value_element_as_str()]
        )
        if isinstance(override.value(), list):  # several options at once: logger=[csv,mlflow]
            values = [str(v) for v in override.value()]
        allowed = options(key)
        for value in values:
            if value not in allowed and value != "null":
                raise UserError(f"{key}={value} is not known; choose one of: {', '.join(allowed)}")


def _is_group(key: str) -> bool:
    return key.startswith("hydra/") or (conf_dir() / key).is_dir()


def _check_keys_exist(overrides, cfg) -> None:
    keys = None
    for override in overrides:
        key = override.key_or_group
        if override.is_add() or override.is_force_add() or key.startswith("hydra"):
            continue
        if _is_group(key):
            continue
        if OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False) is _ABSENT:
            _refuse_unchosen_logger(key)
            keys = keys if keys is not None else all_keys(cfg)
            raise UserError(not_a_key(key, keys))


def _refuse_unchosen_logger(key: str) -> None:
    """logger.mlflow.* given without logger=mlflow: say which option the key belongs to."""
    group, _, rest = key.partition(".")
    option = rest.split(".", 1)[0]
    if group == "logger" and option in options("logger"):
        raise UserError(
            f"{key} is a key of logger={option}, which is not chosen: add logger={option} "
            f"(or several, e.g. logger=[tensorboard,{option}])"
        )


_ABSENT = object()


def _check_augment(overrides, shipped) -> None:
    """objective.augment needs an image critic: say why, rather than that the key is unknown."""
    from gantrain.objectives.augment import CODE_CRITIC, no_image_critic

    given = {o.key_or_group: o.get_value_element_as_str() for o in overrides}
    augment = given.get("objective.augment.kind")
    if augment in (None, "none"):
        return
    objective = shipped.get("objective") or {}
    if "augment" not in objective:
        raise no_image_critic(augment, f"objective={given.get('objective')} has no critic")
    if objective.get("space") == "code":
        raise no_image_critic(augment, CODE_CRITIC)


def _jobs(overrides, multirun: bool) -> list[list[str]] | None:
    """Each job's override list; None when the sweep's syntax is not the basic sweeper's."""
    if not multirun:
        return [[o.input_line for o in overrides]]
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    try:
        batches = BasicSweeper.split_arguments(overrides, None)
    except Exception:  # interval() and friends belong to another sweeper (Optuna)
        return None
    return [job for batch in batches for job in batch]


def check_command_line(args: list[str], schema: Schema) -> None:
    """Flags, group options, unknown keys and every value of every job, before Hydra runs."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    check_flags(args)
    flags, overrides = split_args(args)
    parsed = _parse(overrides)
    check_group_choices(parsed)
    multirun = bool({"-m", "--multirun"} & set(flags))
    jobs = _jobs(parsed, multirun)
    if jobs is None:
        return
    shipped_by_groups: dict[
        tuple[str, ...], DictConfig
    ] = {}  # jobs of one sweep share their groups
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        for job in jobs[:MAX_CHECKED_JOBS]:
            job_overrides = _parse(job)
            groups = tuple(o.input_line for o in job_overrides if _is_group(o.key_or_group))
            try:
                if groups not in shipped_by_groups:
                    shipped_by_groups[groups] = compose("train", overrides=list(groups))
                shipped = shipped_by_groups[groups]
                _check_augment(job_overrides, shipped)
                _check_keys_exist(job_overrides, shipped)
                cfg = compose("train", overrides=job)
            except (HydraException, OmegaConfBaseException) as err:
                raise UserError(" ".join(str(err).split())) from None
            schema.check(cfg, shipped)
