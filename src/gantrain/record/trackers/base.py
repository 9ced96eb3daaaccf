"""The one small interface every tracker (TensorBoard, csv, MLflow, W&B) implements, and what
trackers share: importing an optional package, keeping a run's id for a resumed run."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from gantrain.errors import UserError

# logger name -> (module it needs, the pip extra that installs it)
EXTRAS = {"mlflow": ("mlflow", "mlflow"), "wandb": ("wandb", "wandb")}
IDS = "trackers.json"  # tracker name -> its run's id there, so that a resumed run continues it


def require(name: str):
    """The module a logger needs, or one line naming the extra that installs it."""
    module, extra = EXTRAS[name]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f'logger={name} needs the {module} package: pip install "gantrain[{extra}]" '
            f"(or choose another logger, e.g. logger=csv)"
        ) from None


def _ids(run_dir: Path) -> dict:
    """RUN/trackers.json ({} when there is none), or one line where it is not what gantrain
    writes there: an object of objects of text or whole numbers (tracker name -> its run's id,
    its store, the last round it logged)."""
    from gantrain.record.run_files import read_json

    path = run_dir / IDS
    if not path.exists():
        return {}
    found = read_json(path)
    ok = isinstance(found, dict) and all(
        isinstance(v, dict)
        and isinstance(v.get("run_id", ""), str)
        and all(_plain(x) for x in v.values())
        for v in found.values()
    )
    if not ok or not isinstance(found, dict):
        raise UserError(
            f"{path} is not a record of the trackers' runs (an object of tracker name -> "
            '{"run_id": ...}): remove it, and the trackers start new runs'
        )
    return found


def _plain(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def kept(run_dir: Path, name: str) -> dict:
    """What a tracker kept about its run in RUN/trackers.json ({} when nothing)."""
    return _ids(run_dir).get(name) or {}


def keep(run_dir: Path, name: str, values: dict) -> None:
    from gantrain.record.run_files import write_json

    write_json(run_dir / IDS, {**_ids(run_dir), name: values})


class Tracker:
    """What a tracker is told; each call is a no-op unless the tracker keeps that kind of thing.
    Images are grids (3, H, W) as float in [0, 1], as TensorBoard takes them."""

    # whether this tracker began a record of its own (not one a resumed run continues): such a
    # tracker is given the run's config, also when a resume adds it
    fresh = True

    def config(self, config: dict, text: str) -> None:
        """The run's config, once, at a fresh start (text: as YAML)."""

    def scalars(self, values: dict[str, float], rnd: int) -> None:
        """Tagged values (train/loss, eval/fid) at a round."""

    def text(self, tag: str, text: str, rnd: int) -> None:
        pass

    def figure(self, tag: str, figure, rnd: int) -> None:
        """A matplotlib figure (the class histogram)."""

    def image(self, tag: str, grid, rnd: int) -> None:
        pass

    def hparams(self, hparams: dict, metrics: dict) -> None:
        """A sweep job's settings beside its final metrics (final/*)."""

    def close(self) -> None:
        pass


def as_uint8(grid) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, as image files and most trackers take it."""
    return grid.mul(255).add(0.5).clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()


def figure_rgb(figure) -> np.ndarray:
    """A matplotlib Figure drawn off-screen as (H, W, 3) uint8 (no pyplot needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
