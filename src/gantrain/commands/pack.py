"""`gantrain-pack`: decode a dataset once into WebDataset tar shards and a manifest."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Literal

from annotated_types import Ge, Le

from gantrain.cli.arguments import run
from gantrain.data.decode import Filter, Fit, Recipe
from gantrain.errors import UserError
from gantrain.kinds import (
    NOT_A_FLAG,
    Channels,
    Count,
    Flag,
    ImageSize,
    PathText,
    PositiveFloat,
    Rgb,
    Says,
    Text,
)
from gantrain.record import lock
from gantrain.schema import Schema

log = logging.getLogger("gantrain")
Format = Annotated[Literal["png", "jpg"], NOT_A_FLAG]
Quality = Annotated[int, Ge(1), Le(100), Says("an integer from 1 to 100")]


def pack(
    src: PathText | None = None,
    out: PathText | None = None,
    image_size: ImageSize = 64,
    channels: Channels = 3,
    fit: Fit = "crop",
    filter: Filter = "bicubic",  # noqa: A002 (the filter key)
    background: Rgb = (255, 255, 255),
    format: Format = "png",  # noqa: A002 (the format key)
    quality: Quality = 95,
    shard_mb: PositiveFloat = 100.0,
    workers: Count = 2,
    split: Text = "train",
    image_column: Text = "image",
    label_column: Text | None = "label",
    progress: Flag | None = None,
) -> str:
    """Pack src into out as conf/pack.yaml describes each key; returns the line to print."""
    from gantrain.cli.places import check_writable
    from gantrain.data.pack.run import pack as run_pack
    from gantrain.data.pack.sources import open_source
    from gantrain.data.pack.write import Settings

    if src is None or out is None:
        raise UserError("give src=WHAT_TO_PACK and out=FOLDER, e.g. src=~/photos out=~/photos-64")
    target = Path(out).expanduser()
    if target.exists() and not target.is_dir():
        raise UserError(f"out={out} is a file: give a folder for the shards")
    check_writable(target, "out")
    hub_name = "/" in src.strip("/") and not src.startswith((".", "/", "~"))  # user/dataset
    if not Path(src).expanduser().exists() and not hub_name:
        raise UserError(
            f"src={src} does not exist: give a folder, archive, Parquet file or "
            "saved dataset to pack"
        )
    # one writer per pack: a second gantrain-pack into this out= is refused before it reads
    lock.claim(target, "wait for it to finish or give another out= folder")
    try:
        source = open_source(src, split, image_column, label_column)
        settings = Settings(
            image_size,
            channels,
            Recipe(fit, filter, tuple(background)),
            format,
            quality,
            float(shard_mb),
        )
        log.info("packing %d images from %s into %s", len(source), source.what, target)
        return run_pack(source, target, settings, workers, progress)
    finally:
        lock.release(target)  # and out= itself where the claim made it and nothing came in


def schema() -> Schema:
    """gantrain-pack's keys are pack()'s parameters."""
    return Schema({"": (pack,)})


def main() -> None:
    from gantrain.data.pack.write import Interrupted

    try:
        run("pack", schema(), lambda keys: pack(**keys))
    except (Interrupted, KeyboardInterrupt) as err:
        said = str(err) or "interrupted before any shard was finished"
        print(f"gantrain-pack: {said}", file=sys.stderr, flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
