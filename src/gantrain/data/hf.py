"""Hugging Face datasets (`dataset=hf`): a saved dataset (`save_to_disk`), Parquet files, or a
Hub name when online; its image column through the one decoder, its label column as classes.
Held as one uint8 tensor (N, C, S, S) when small enough, else streamed as a Dataset of uint8
(C, S, S), as an image folder is. gantrain-pack reads the same tables through open_table."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from gantrain.data.decode import PLAIN, Filter, Fit, Recipe
from gantrain.data.image_files import ImageFiles, hold_or_stream
from gantrain.data.labelled import checked, no_labels
from gantrain.data.subset import Limit, limit_list
from gantrain.errors import UserError
from gantrain.files import contained
from gantrain.kinds import Channels, Count, Flag, ImageSize, Integer, PathText, Rgb, Text

log = logging.getLogger(__name__)
HELD_OUT = ("test", "validation", "valid")  # the splits FID references use, in this order
SAVED = ("dataset_info.json", "state.json", "dataset_dict.json")  # what save_to_disk writes


def _datasets():
    try:
        import datasets
    except ImportError:
        raise UserError(
            'Hugging Face datasets need the datasets package: pip install "gantrain[hf]"'
        ) from None
    return datasets


def _parquet_splits(base: Path) -> dict[str, list[str]]:
    """Parquet files under base by split: a file named test-*.parquet (or in a folder named
    test) belongs to test, and so on; the others to train."""
    files = [base] if base.is_file() else sorted(base.rglob("*.parquet"))
    splits: dict[str, list[str]] = {}
    for f in files:
        words = [f.name.split("-")[0].split(".")[0], *f.relative_to(base).parts[:-1]]
        split = next((w for w in words if w in ("train", *HELD_OUT)), "train")
        splits.setdefault(split, []).append(str(f))
    return splits


def open_all(root: str, key: str = "dataset.root"):
    """A DatasetDict (or a Dataset) from a saved dataset, Parquet files, or a Hub name."""
    ds = _datasets()
    base = Path(root).expanduser()
    try:
        if base.is_dir() and any((base / name).exists() for name in SAVED):
            return ds.load_from_disk(str(base))
        if base.suffix == ".parquet" or (base.is_dir() and any(base.rglob("*.parquet"))):
            return ds.load_dataset("parquet", data_files=_parquet_splits(base))
    except Exception as err:  # arrow, json and datasets' own errors: each means "cannot read it"
        why = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise UserError(
            f"{key}={root} cannot be read as a saved dataset or Parquet ({why}): "
            "write it again (save_to_disk or to_parquet)"
        ) from None
    if base.exists() or "/" not in root.strip("/") or root.startswith((".", "/", "~")):
        raise UserError(
            f"{key}={root} is neither a saved Hugging Face dataset (a folder with "
            "dataset_info.json, from save_to_disk) nor Parquet files: point it at one of them"
        )
    log.info("loading %s from the Hugging Face Hub", root)
    try:
        return ds.load_dataset(root)
    except Exception as err:  # offline, unknown name, gated: all mean "cannot read it"
        raise UserError(
            f"{key}={root} is no file or folder here, and loading it from the Hugging Face Hub "
            f"failed ({err})"
        ) from None


def open_table(root: str, split: str, key: str = "dataset.root"):
    """(the rows of one split, the split's name): split test falls back to validation, and a
    dataset without held-out rows gives its training rows."""
    found = open_all(root, key)
    if not hasattr(found, "keys"):  # one Dataset, no splits
        if split not in ("train", *HELD_OUT):
            raise UserError(f"split={split}: {root} has no splits; use split=train")
        return found, "all"
    names = list(found.keys())
    wanted = [split] if split not in HELD_OUT else [*HELD_OUT]
    for name in wanted:
        if name in names:
            return found[name], name
    if split in HELD_OUT and "train" in names:
        return found["train"], "train"
    raise UserError(f"split={split} is not in {root}; its splits: {', '.join(names)}")


def column(table, name: str, key: str, root: str) -> None:
    if name not in table.column_names:
        raise UserError(
            f"{key}={name} is not a column of {root}; its columns: {', '.join(table.column_names)}"
        )


def undecoded(table, image_column: str):
    """The table with its Image column left as bytes: the one decoder decodes them."""
    ds = _datasets()
    if isinstance(table.features[image_column], ds.Image):
        return table.cast_column(image_column, ds.Image(decode=False))
    return table


def files_base(root: str) -> Path:
    """The folder a table's image paths must lie in: the dataset's own folder, or for a Hub
    name the Hugging Face cache it was downloaded into."""
    base = Path(root).expanduser()
    if base.is_file():
        return base.resolve().parent
    if base.is_dir():
        return base.resolve()
    import datasets.config

    return Path(datasets.config.HF_CACHE_HOME)


def _cell_path(value, base: Path, what: str) -> Path:
    """A path cell, checked to stay inside base before the file is opened."""
    return contained(base, value, f"{what}", absolute=True)


def image_source(value, base: Path, what: str = "the table"):
    """A cell of the image column as something the decoder reads: bytes or a path (checked to
    lie inside base: a table is data, and may name any file); an array (a column of pixel
    lists) as PNG bytes, losslessly."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        value = value.get("path")
    if isinstance(value, str):
        return _cell_path(value, base, what)
    if isinstance(value, bytes):
        return value
    from PIL import Image

    if not isinstance(value, Image.Image):
        value = Image.fromarray(np.asarray(value, dtype=np.uint8))
    out = io.BytesIO()
    value.save(out, format="PNG")
    return out.getvalue()


def check_paths(table, image_column: str, base: Path, what: str) -> None:
    """Every file the image column names lies inside base (Escapes naming the first that does
    not), checked before any is opened; rows holding their bytes name none."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.data.column(image_column)  # pyarrow ChunkedArray
    if pa.types.is_struct(col.type) and col.type.get_field_index("path") >= 0:
        paths = pc.struct_field(col, "path")
        if col.type.get_field_index("bytes") >= 0:
            paths = pc.if_else(pc.is_null(pc.struct_field(col, "bytes")), paths, None)
    elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        paths = col
    else:
        return
    for row, path in enumerate(paths.to_pylist()):
        if path is not None:
            _cell_path(path, base, f"row {row} of {what}")


def labels_of(table, label_column: str) -> tuple[list[int], list[str]]:
    """Each row's class index and the class names: a ClassLabel's own names, else the column's
    distinct values in sorted order."""
    ds = _datasets()
    values = table[label_column]
    feature = table.features[label_column]
    if isinstance(feature, ds.ClassLabel):
        return [int(v) for v in values], list(feature.names)
    if any(v is None for v in values):
        raise UserError(f"the label column {label_column} has empty cells: fill or drop them")
    distinct = sorted(set(values))
    index = {v: i for i, v in enumerate(distinct)}
    return [index[v] for v in values], [str(v) for v in distinct]


class HFImages(ImageFiles):
    """Rows of a table as uint8 (channels, S, S) images, decoded when asked for."""

    def __init__(
        self,
        table,
        image_column: str,
        rows: list[int],
        what: str,
        image_size: int,
        channels: int,
        labels=None,
        classes=None,
        recipe: Recipe = PLAIN,
        base: Path = Path("/nonexistent"),
    ):
        super().__init__([], image_size, channels, labels, classes, recipe)
        self.table, self.image_column, self.rows, self.what = table, image_column, rows, what
        self.base = base  # where the files the table names must lie

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, keep: list[int]) -> HFImages:
        labels = None if self.labels is None else [self.labels[i] for i in keep]
        return HFImages(
            self.table,
            self.image_column,
            [self.rows[i] for i in keep],
            self.what,
            self.image_size,
            self.channels,
            labels,
            self.classes,
            self.recipe,
            self.base,
        )

    def source(self, i: int):
        return image_source(self.table[self.rows[i]][self.image_column], self.base, self.what)

    def name(self, i: int) -> str:
        return f"row {self.rows[i]} of {self.what}"


def load(
    root: PathText | None,
    split: Text = "train",
    image_column: Text = "image",
    label_column: Text | None = "label",
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
    """One split's images as uint8 (N, C, S, S), or a Dataset of uint8 (C, S, S) when there are
    more than in_memory_max; with labels, as Labelled with label_column's classes. split=test
    (what FID compares against) reads test, else validation, else the training rows."""
    if root is None or not str(root).strip():
        raise UserError(
            "dataset.root is not set: dataset=hf needs dataset.root=/path/to/saved_dataset "
            "(from save_to_disk), Parquet files, or a Hub name"
        )
    root = str(root)
    table, used = open_table(root, split)
    if split in HELD_OUT and used != split:
        log.info("%s has no %s split: the %s rows stand in", root, split, used)
    column(table, image_column, "dataset.image_column", root)
    table = undecoded(table, image_column)
    what = f"{root} ({used})"
    base = files_base(root)
    check_paths(table, image_column, base, what)
    classes, indices = None, None
    if labels:
        if label_column is None or label_column not in table.column_names:
            raise no_labels(
                f"dataset.label_column={label_column} of {root}",
                f"name its label column (columns: {', '.join(table.column_names)})",
            )
        indices, classes = labels_of(table, label_column)
        checked(indices, classes, what)
    keep = limit_list(range(len(table)), limit, limit_seed, what)
    indices = None if indices is None else [indices[i] for i in keep]
    recipe = Recipe(fit, filter, tuple(background))
    files = HFImages(
        table.select_columns([image_column]),
        image_column,
        keep,
        what,
        image_size,
        channels,
        indices,
        classes,
        recipe,
        base,
    )
    return hold_or_stream(files, in_memory_max, workers, what)
