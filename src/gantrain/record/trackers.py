"""The trackers the `logger` config group (conf/logger/) chooses, behind record/tracker.py's
interface: their config keys, TensorBoard and csv, and the factory.

TensorBoard and csv ship with gantrain; MLflow and W&B are extras, imported only when chosen,
so that a user without them hears which `pip install` to run.
"""

from __future__ import annotations

import csv
import inspect
import typing
from pathlib import Path

from gantrain.errors import UserError
from gantrain.kinds import Node
from gantrain.record.tracker import EXTRAS, Tracker, as_uint8, figure_rgb, require

DEFAULT = {"tensorboard": {}}  # a run (or a config) that names no logger


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

    keys.__signature__ = inspect.Signature(params)
    keys.__annotations__ = {p.name: hints[p.name] for p in params}
    keys.__doc__ = cls.__doc__
    return keys


def sections() -> dict:
    """The schema's sections for the logger node: each tracker's keys."""
    from gantrain.record.mlflow_tracker import MlflowTracker
    from gantrain.record.wandb_tracker import WandbTracker

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


class TensorBoardTracker(Tracker):
    def __init__(self, run_dir: Path, start_round: int):
        from torch.utils.tensorboard import SummaryWriter

        self.fresh = not (run_dir / "tb").exists()
        # purge_step drops events a killed run logged after its last checkpoint
        self.writer = SummaryWriter(
            str(run_dir / "tb"), purge_step=start_round + 1 if start_round else None
        )

    def config(self, config: dict, text: str) -> None:
        self.writer.add_text("config", text, 0)

    def scalars(self, values: dict[str, float], rnd: int) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, rnd)

    def text(self, tag: str, text: str, rnd: int) -> None:
        self.writer.add_text(tag, text, rnd)

    def figure(self, tag: str, figure, rnd: int) -> None:
        self.writer.add_figure(tag, figure, rnd)

    def image(self, tag: str, grid, rnd: int) -> None:
        self.writer.add_image(tag, grid, rnd)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        # The session's start and end only, no experiment summary: TensorBoard shows the first
        # experiment summary it finds for a whole logdir, so a sweep's adversarial job would name
        # the metric columns and an MMD job's own metrics would stay blank. Without one, the
        # HParams view builds its columns from every job's hparams and scalars.
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        _, start, end = hparams_summaries(hparams, metrics)
        self.writer.file_writer.add_summary(start)
        self.writer.file_writer.add_summary(end)
        for k, v in metrics.items():
            self.writer.add_scalar(k, v)

    def close(self) -> None:
        self.writer.close()


class CsvTracker(Tracker):
    """Plain files any tool reads: scalars.csv in long form (a new tag needs no new header)."""

    def __init__(self, run_dir: Path, start_round: int):
        self.dir = run_dir / "csv"
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "scalars.csv"
        self.fresh = not (self.dir / "config.yaml").exists()
        if start_round and path.is_file():
            _prune(path, start_round)
        new = not path.is_file() or path.stat().st_size == 0
        self.file = open(path, "a", encoding="utf-8", newline="")
        self.rows = csv.writer(self.file)
        if new:
            self.rows.writerow(["round", "tag", "value"])

    def config(self, config: dict, text: str) -> None:
        import yaml

        (self.dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")

    def scalars(self, values: dict[str, float], rnd: int) -> None:
        self.rows.writerows([rnd, k, repr(float(v))] for k, v in values.items())
        self.file.flush()

    def text(self, tag: str, text: str, rnd: int) -> None:
        path = self.dir / "text" / f"{tag.replace('/', '_')}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")

    def image(self, tag: str, grid, rnd: int) -> None:
        self._png(tag, rnd, as_uint8(grid))

    def figure(self, tag: str, figure, rnd: int) -> None:
        self._png(tag, rnd, figure_rgb(figure))

    def _png(self, tag: str, rnd: int, pixels) -> None:
        from PIL import Image

        path = self.dir / "images" / tag / f"round_{rnd:06d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        with open(self.dir / "hparams.csv", "w", encoding="utf-8", newline="") as f:
            rows = csv.writer(f)
            rows.writerow(["key", "value"])
            rows.writerows([*hparams.items(), *metrics.items()])

    def close(self) -> None:
        self.file.close()


def _prune(path: Path, start_round: int) -> None:
    """Rows a killed run wrote after its last checkpoint go, as TensorBoard's purge_step does."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        rounds = [int(r[0]) if r else None for r in rows[1:]]
    except (ValueError, UnicodeDecodeError, csv.Error) as err:
        raise UserError(
            f"{path} is not the csv logger's (round,tag,value rows: {err}); move it away to "
            "resume with a new one"
        ) from None
    kept = rows[:1] + [r for r, n in zip(rows[1:], rounds, strict=True) if r and n <= start_round]
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(kept)


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
        from gantrain.record.mlflow_tracker import MlflowTracker

        return MlflowTracker(run_dir, start_round, **keys)
    if name == "wandb":
        from gantrain.record.wandb_tracker import WandbTracker

        return WandbTracker(run_dir, start_round, **keys)
    raise UserError(f"logger={name} is not known; choose from tensorboard, csv, mlflow, wandb")
