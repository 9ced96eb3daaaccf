"""The trackers the `logger` config group (conf/logger/) chooses, behind base.py's
interface: their config keys and the factory; one file per tracker (tensorboard.py, csv.py,
mlflow.py, wandb.py).

TensorBoard and csv ship with gantrain; MLflow and W&B are extras, imported only when chosen,
so that a user without them hears which `pip install` to run.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

from gantrain.errors import UserError
from gantrain.kinds import Node
from gantrain.record.trackers.base import EXTRAS, Tracker, require
from gantrain.record.trackers.csv import CsvTracker
from gantrain.record.trackers.tensorboard import TensorBoardTracker

DEFAULT: dict[str, dict] = {"tensorboard": {}}  # a run (or a config) that names no logger


def logger_keys(
    tensorboard: Node | None = None,
    csv: Node | None = None,  # noqa: A002 (the logger's name)
    mlflow: Node | None = None,
    wandb: Node | None = None,
):
    """The trackers a run writes to: `logger=mlflow`, or several, `logger=[tensorboard,mlflow]`."""


def tensorboard_keys():
    """TensorBoard event files in RUN/tb."""


def csv_keys():
    """RUN/csv/: scalars.csv (round, tag, value), config.yaml, hparams.csv and the images."""


def constructor_keys(cls):
    """A function whose parameters are cls's config keys: its constructor's, less the run
    directory and start round that gantrain passes; the schema checks the config against it,
    so the keys and the constructor cannot drift apart."""
    hints = typing.get_type_hints(cls.__init__, include_extras=True)
    params = list(inspect.signature(cls.__init__).parameters.values())[3:]  # self, run_dir, start

    def keys(): ...

    # a function's __signature__ is what inspect reads first; mypy knows no such attribute
    keys.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    keys.__annotations__ = {p.name: hints[p.name] for p in params}
    keys.__doc__ = cls.__doc__
    return keys


def sections() -> dict:
    """The schema's sections for the logger node: each tracker's keys."""
    from gantrain.record.trackers.mlflow import MlflowTracker
    from gantrain.record.trackers.wandb import WandbTracker

    return {
        "logger": (logger_keys,),
        "logger.tensorboard": (tensorboard_keys,),
        "logger.csv": (csv_keys,),
        "logger.mlflow": (constructor_keys(MlflowTracker),),
        "logger.wandb": (constructor_keys(WandbTracker),),
    }


def check_available(loggers: dict | None) -> None:
    """Before anything is built: every chosen logger's package is importable."""
    for name in loggers or {}:
        if name in EXTRAS:
            require(name)


def make_trackers(run_dir: Path, loggers: dict | None, start_round: int) -> list[Tracker]:
    """The trackers the `logger` node names, in its order; DEFAULT when it names none."""
    out: list[Tracker] = []
    try:
        for name, keys in (DEFAULT if loggers is None else loggers).items():
            out.append(_make(name, run_dir, start_round, keys or {}))
    except BaseException:  # those already open are closed: no half-started runs left behind
        for tracker in out:
            tracker.close()
        raise
    return out


def _make(name: str, run_dir: Path, start_round: int, keys: dict) -> Tracker:
    if name == "tensorboard":
        return TensorBoardTracker(run_dir, start_round)
    if name == "csv":
        return CsvTracker(run_dir, start_round)
    if name == "mlflow":
        from gantrain.record.trackers.mlflow import MlflowTracker

        return MlflowTracker(run_dir, start_round, **keys)
    if name == "wandb":
        from gantrain.record.trackers.wandb import WandbTracker

        return WandbTracker(run_dir, start_round, **keys)
    raise UserError(f"logger={name} is not known; choose from tensorboard, csv, mlflow, wandb")
