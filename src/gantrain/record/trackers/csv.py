"""csv: plain files in RUN/csv (scalars.csv, config.yaml, hparams.csv, images/) any tool reads."""

from __future__ import annotations

import csv
from pathlib import Path

from gantrain.errors import UserError
from gantrain.record.trackers.base import Tracker, as_uint8, figure_rgb


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
    kept = rows[:1] + [
        r for r, n in zip(rows[1:], rounds, strict=True) if r and n is not None and n <= start_round
    ]
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(kept)
