"""What gantrain-pack reads: an image folder, a .zip or .tar of images, a torchvision root (the
MNIST family, CIFAR-10) or a Hugging Face dataset. Each is a Source: a count, the class names
(or None), each item's label, and item(i): what the one decoder reads (a path, bytes, or a PIL
image). Sources are handed to worker processes, so open handles are made lazily, per process."""

from __future__ import annotations

import logging
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from gantrain.data.decode import MAX_FILE_BYTES, TooLarge
from gantrain.data.image_files import EXTENSIONS, find_images
from gantrain.errors import UserError
from gantrain.files import plain_name

log = logging.getLogger(__name__)
TORCHVISION = {
    "MNIST": "mnist",
    "FashionMNIST": "fashion_mnist",
    "KMNIST": "kmnist",
    "cifar-10-batches-py": "cifar10",
}


class Source:
    what: str
    names: list[str]  # each item as the manifest's skipped list names it
    labels: list[int] | None = None
    classes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def item(self, i: int):
        raise NotImplementedError


def _classes(parts: list[tuple[str, ...]], what: str) -> tuple[list[int] | None, list[str] | None]:
    """Classes from first-level folders (sorted, as torchvision's ImageFolder), when every image
    lies in one; else none, said once."""
    nested = [p for p in parts if len(p) > 1]
    if not nested:
        return None, None
    if len(nested) < len(parts):
        log.warning(
            "%d images lie outside any class folder in %s: packed without classes",
            len(parts) - len(nested),
            what,
        )
        return None, None
    classes = sorted({p[0] for p in parts})
    index = {c: i for i, c in enumerate(classes)}
    return [index[p[0]] for p in parts], classes


class Folder(Source):
    def __init__(self, base: Path):
        self.what, self.base = str(base), base
        self.paths = find_images(base)
        self.names = [str(p) for p in self.paths]
        self.labels, self.classes = _classes(
            [p.relative_to(base).parts for p in self.paths], self.what
        )

    def item(self, i: int):
        return self.paths[i]


def _members(names: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """The image members of an archive in sorted order, and their paths below a single top
    folder that holds them all (photos.zip -> photos/cats/1.png has class cats)."""
    kept = sorted(n for n in names if n.lower().endswith(EXTENSIONS) and "__MACOSX" not in n)
    parts = [PurePosixPath(n).parts for n in kept]
    while parts and all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    return kept, parts


class Archive(Source):
    """A .zip, or a .tar (also .tar.gz, .tgz), read member by member."""

    def __init__(self, path: Path):
        self.what, self.path = str(path), path
        self.is_zip = zipfile.is_zipfile(path)
        try:
            if self.is_zip:
                with zipfile.ZipFile(path) as z:
                    found = [m.filename for m in z.infolist() if not m.is_dir()]
            else:
                with tarfile.open(path) as t:
                    found = [m.name for m in t.getmembers() if m.isfile()]
        except (OSError, tarfile.TarError, zipfile.BadZipFile) as err:
            raise UserError(f"src={path} cannot be read as a zip or tar archive ({err})") from None
        self.names, parts = _members(found)
        for name in self.names:  # a member is named in the manifest: refuse what escapes
            plain_name(name, f"the archive {path}", f"src={path}")
        self.labels, self.classes = _classes(parts, self.what)
        self._handle: Any = None  # a ZipFile or TarFile, opened by the process that reads

    def __getstate__(self):
        return {**self.__dict__, "_handle": None}  # each process opens its own

    def item(self, i: int) -> bytes:
        """The member's bytes, read in a stream and cut off past MAX_FILE_BYTES (TooLarge): a
        member's stated size may lie, and a small archive may inflate to gigabytes."""
        if self._handle is None:
            self._handle = zipfile.ZipFile(self.path) if self.is_zip else tarfile.open(self.path)
        if self.is_zip:
            if self._handle.getinfo(self.names[i]).file_size > MAX_FILE_BYTES:
                raise TooLarge(f"{self.names[i]} inflates past {MAX_FILE_BYTES:,} bytes")
            stream = self._handle.open(self.names[i])
        else:
            stream = self._handle.extractfile(self.names[i])
        with stream:
            data = stream.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise TooLarge(f"{self.names[i]} inflates past {MAX_FILE_BYTES:,} bytes")
        return data


class Torchvision(Source):
    """torchvision's MNIST family or CIFAR-10 under root, one split, as arrays."""

    def __init__(self, root: Path, folder: str, train: bool):
        from gantrain.data.torchvision_sets import SOURCES, open_dataset

        name = TORCHVISION[folder]
        ds = open_dataset(
            name, root, False, lambda _: SOURCES[name].cls(str(root), train=train, download=False)
        )
        self.what = f"{name} ({'train' if train else 'test'}) in {root}"
        self.data = ds.data if name == "cifar10" else ds.data.numpy()  # (N, H, W[, 3]) uint8
        self.labels = [int(t) for t in ds.targets]
        self.classes = [str(c) for c in ds.classes]
        self.names = [f"{name} #{i}" for i in range(len(self.labels))]

    def item(self, i: int):
        from PIL import Image

        return Image.fromarray(self.data[i])


class HuggingFace(Source):
    def __init__(self, root: str, split: str, image_column: str, label_column: str | None):
        from gantrain.data import hf

        table, used = hf.open_table(root, split, key="src")
        hf.column(table, image_column, "image_column", root)
        self.what = f"{root} ({used})"
        self.labels, self.classes = None, None
        if label_column is not None and label_column in table.column_names:
            self.labels, self.classes = hf.labels_of(table, label_column)
        self.table = hf.undecoded(table.select_columns([image_column]), image_column)
        self.base = hf.files_base(root)
        hf.check_paths(self.table, image_column, self.base, self.what)
        self.column = image_column
        self.names = [f"row {i}" for i in range(len(self.table))]

    def item(self, i: int):
        from gantrain.data.hf import image_source

        return image_source(self.table[i][self.column], self.base, self.what)


def _torchvision_folder(base: Path) -> tuple[Path, str] | None:
    """(root, folder) when base is a torchvision root or one of its dataset folders."""
    if base.name in TORCHVISION:
        return base.parent, base.name
    found = [f for f in TORCHVISION if (base / f).is_dir()]
    if len(found) > 1:
        raise UserError(
            f"src={base} holds {', '.join(found)}: give one of them, e.g. src={base / found[0]}"
        )
    return (base, found[0]) if found else None


def open_source(src: str, split: str, image_column: str, label_column: str | None) -> Source:
    """The Source that src names; its kind from what is there."""
    from gantrain.data.hf import SAVED

    base = Path(src).expanduser()
    base = base.resolve() if base.exists() else base
    if base.is_file() and base.suffix.lower() != ".parquet":
        return Archive(base)
    tv = _torchvision_folder(base) if base.is_dir() else None
    if tv is not None:
        if split not in ("train", "test"):
            raise UserError(f"split={split}: {tv[1]} has the splits train and test")
        return Torchvision(*tv, train=split == "train")
    saved = base.is_dir() and any((base / n).exists() for n in SAVED)
    parquet = base.suffix.lower() == ".parquet" or (base.is_dir() and any(base.rglob("*.parquet")))
    if saved or parquet or not base.exists():
        return HuggingFace(str(base), split, image_column, label_column)
    return Folder(base)
