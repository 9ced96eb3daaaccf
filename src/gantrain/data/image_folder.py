"""Any folder tree of PNG/JPEG images, squared to dataset.image_size: held as one uint8 tensor
(N, C, S, S) when small enough, else streamed from disk as a Dataset of uint8 (C, S, S)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gantrain.data.decode import Filter, Fit, Recipe
from gantrain.data.decode import square as square  # the decoder's squaring, named here before
from gantrain.data.image_files import EXTENSIONS, ImageFiles, find_images, hold_or_stream
from gantrain.data.labelled import checked, no_labels
from gantrain.data.subset import Limit, limit_list
from gantrain.errors import UserError
from gantrain.kinds import Channels, Count, Flag, ImageSize, Integer, PathText, Rgb

log = logging.getLogger(__name__)


def classes_of(base: Path, paths: list[Path]) -> tuple[list[int], list[str], list[Path]]:
    """Each image's class, its first-level subfolder (sorted names, as torchvision's
    ImageFolder): (labels, class names, the paths that have one); images lying directly in
    base have none and are left out."""
    classes = sorted({p.relative_to(base).parts[0] for p in paths if p.parent != base})
    index = {c: i for i, c in enumerate(classes)}
    kept = [p for p in paths if p.parent != base]
    return [index[p.relative_to(base).parts[0]] for p in kept], classes, kept


def _labelled_files(base: Path, root, paths: list[Path]) -> tuple[list[Path], list[int], list[str]]:
    labels, classes, kept = classes_of(base, paths)
    if not classes:
        raise no_labels(
            f"dataset.root={root} (its images lie in one flat folder, not in class subfolders)",
            "sort them into one subfolder per class, e.g. ROOT/cats/*.png and ROOT/dogs/*.png",
        )
    checked(torch.tensor(labels), classes, f"dataset.root={root}")
    if len(kept) < len(paths):
        log.warning(
            "%d images lie directly in %s, outside any class folder: left out",
            len(paths) - len(kept),
            base,
        )
    log.info(
        "%d classes: %s",
        len(classes),
        ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else ""),
    )
    return kept, labels, classes


def load(
    root: PathText | None,
    image_size: ImageSize = 64,
    channels: Channels = 3,
    in_memory_max: Count = 50000,
    workers: Count = 2,
    labels: Flag = False,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
    fit: Fit = "crop",
    filter: Filter = "bicubic",  # noqa: A002 (the dataset.filter key)
    background: Rgb = (255, 255, 255),
):
    """The images under root as uint8 (N, channels, image_size, image_size), or a Dataset of
    uint8 (channels, image_size, image_size) when there are more than in_memory_max; with labels,
    as Labelled with each image's first-level subfolder as its class; with limit, a fixed random
    subset of the files, chosen by limit_seed before any is decoded. fit, filter and background:
    how each picture becomes a square (decode.py)."""
    if root is None or not str(root).strip():
        raise UserError(
            "dataset.root is not set: dataset=image_folder needs dataset.root=/path/to/images "
            "(a folder tree of PNG or JPEG files)"
        )
    base = Path(str(root)).expanduser().resolve()
    if not base.is_dir():
        shown = root if str(base) == str(root) else f"{root} ({base})"
        raise UserError(
            f"dataset.root={shown} is not a folder: point it at a folder of PNG or JPEG images"
        )
    paths = find_images(base)
    if not paths:
        raise UserError(
            f"dataset.root={root} holds no PNG or JPEG images ({', '.join(EXTENSIONS)}, searched "
            f"recursively in {base}): point it at a folder of images"
        )
    indices, classes = None, None
    if labels:
        paths, indices, classes = _labelled_files(base, root, paths)
    keep = limit_list(range(len(paths)), limit, limit_seed, f"dataset.root={root}")
    paths = [paths[i] for i in keep]
    indices = None if indices is None else [indices[i] for i in keep]
    recipe = Recipe(fit, filter, tuple(background))
    files = ImageFiles(paths, image_size, channels, indices, classes, recipe)
    return hold_or_stream(files, in_memory_max, workers, str(base))
