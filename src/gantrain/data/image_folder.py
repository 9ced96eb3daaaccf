"""Any folder tree of PNG/JPEG images, squared to dataset.image_size: held as one uint8 tensor
(N, C, S, S) when small enough, else streamed from disk as a Dataset of uint8 (C, S, S)."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from gantrain.data.labelled import Labelled, checked, no_labels
from gantrain.data.subset import Limit, limit_list
from gantrain.errors import UserError
from gantrain.kinds import Channels, Count, Flag, ImageSize, Integer
from gantrain.kinds import Path as PathText

log = logging.getLogger(__name__)
EXTENSIONS = (".png", ".jpg", ".jpeg")
DECODE_BATCH = 256


def square(img: Image.Image, size: int, channels: int) -> torch.Tensor:
    """A PIL image -> uint8 (channels, size, size): shorter side resized to size, centre crop."""
    mode = "L" if channels == 1 else "RGB"
    img.draft(mode, (size, size))  # JPEG decodes at a reduced scale that still covers size: faster
    img = img.convert(mode)
    w, h = img.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    if new != img.size:
        img = img.resize(new, Image.Resampling.BICUBIC)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    img = img.crop((left, top, left + size, top + size))
    arr = np.asarray(img, dtype=np.uint8).reshape(size, size, channels)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()  # (C, S, S)


def _readable_header(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            return img.width > 0 and img.height > 0
    except Exception:  # PIL raises many types for a bad file; each means "cannot read it"
        return False


class ImageFiles(Dataset):
    """Image files as uint8 (channels, image_size, image_size), decoded when asked for; with
    labels (one class index per path), (image, label) pairs."""

    def __init__(self, paths: list[Path], image_size: int, channels: int,
                 labels: list[int] | None = None, classes: list[str] | None = None):  # fmt: skip
        self.paths = list(paths)
        self.image_size = image_size
        self.channels = channels
        self.labels, self.classes = labels, classes
        self.skipped = 0  # per process: each DataLoader worker counts what it skipped

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, keep: list[int]) -> ImageFiles:
        labels = None if self.labels is None else [self.labels[i] for i in keep]
        return ImageFiles([self.paths[i] for i in keep], self.image_size, self.channels,
                          labels, self.classes)  # fmt: skip

    def read(self, i: int) -> torch.Tensor | None:
        """The i-th image, or None when the file cannot be decoded."""
        try:
            with Image.open(self.paths[i]) as img:
                return square(img, self.image_size, self.channels)
        except Exception:  # truncated, not an image, too big, ...: all mean "skip it"
            return None

    def __getitem__(self, i: int):
        # while streaming, a file that passed the header check may still fail to decode; the
        # next readable one stands in (with its own label) so that one bad file cannot stop a
        # long run
        for k in range(len(self)):
            j = (i + k) % len(self)
            image = self.read(j)
            if image is not None:
                return image if self.labels is None else (image, self.labels[j])
            self.skipped += 1
            log.warning(
                "skipping %s: deleted or unreadable since the run started (%d skipped in this "
                "process); another image stands in for it",
                self.paths[j],
                self.skipped,
            )
        raise UserError(f"none of the {len(self)} images could be decoded, e.g. {self.paths[i]}")


class _Flagged(Dataset):
    """(image or zeros, readable?) so that a decoding pass can count and drop bad files."""

    def __init__(self, files: ImageFiles):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        image = self.files.read(i)
        if image is None:
            s = self.files.image_size
            return torch.zeros(self.files.channels, s, s, dtype=torch.uint8), False
        return image, True


def _hold(files: ImageFiles, workers: int) -> tuple[torch.Tensor, list[int], list[Path]]:
    """Decode every file once (workers in parallel) into uint8 (N_ok, C, S, S); the indices of
    the readable files and the bad paths."""
    s = files.image_size
    out = torch.empty(len(files), files.channels, s, s, dtype=torch.uint8)
    good_idx: list[int] = []
    bad: list[Path] = []
    n, start = 0, 0
    loader = DataLoader(
        _Flagged(files),
        batch_size=DECODE_BATCH,
        num_workers=workers if len(files) > DECODE_BATCH else 0,  # spawning costs more than tiny
    )
    for images, ok in loader:
        good = images[ok]
        out[n : n + good.shape[0]] = good
        n += good.shape[0]
        good_idx += [start + k for k in ok.nonzero().flatten().tolist()]
        bad += [files.paths[start + k] for k in (~ok).nonzero().flatten().tolist()]
        start += ok.numel()
    return out[:n], good_idx, bad


def _check_headers(files: ImageFiles) -> tuple[ImageFiles, list[Path]]:
    """Keep the files whose headers open (cheap: decoding waits until each image is streamed)."""
    with ThreadPoolExecutor(max_workers=8) as pool:  # file opening waits on the disk, not the GIL
        flags = list(pool.map(_readable_header, files.paths, chunksize=64))
    bad = [p for p, ok in zip(files.paths, flags) if not ok]
    return files.subset([i for i, ok in enumerate(flags) if ok]), bad


def hold_or_stream(files: ImageFiles, in_memory_max: int, workers: int, what: str):
    """uint8 (N, C, S, S) when len(files) <= in_memory_max, else an ImageFiles to stream; as
    Labelled when the files have labels.

    Unreadable files are dropped with one warning that counts them; none readable is an error.
    """
    held = len(files) <= in_memory_max
    if held:
        log.info("decoding %d images from %s into memory", len(files), what)
        result, good_idx, bad = _hold(files, workers)
        n_ok = result.shape[0]
    else:
        log.info("checking %d images from %s; they stream from disk", len(files), what)
        result, bad = _check_headers(files)
        n_ok = len(result)
    if n_ok == 0:
        raise UserError(
            f"none of the {len(files)} images in {what} could be read (e.g. {bad[0]}): "
            "check that they are PNG or JPEG files"
        )
    if bad:
        log.warning(
            "skipped %d unreadable of %d images in %s (e.g. %s)", len(bad), len(files), what, bad[0]
        )
    if files.labels is None:
        return result
    kept = files.subset(good_idx) if held else result
    return Labelled(result, torch.tensor(kept.labels, dtype=torch.long), list(files.classes))


def find_images(root: Path) -> list[Path]:
    """Every .png/.jpg/.jpeg file under root, recursively, in a stable order."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        found += [Path(folder) / n for n in sorted(names) if n.lower().endswith(EXTENSIONS)]
    return found


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
        log.warning("%d images lie directly in %s, outside any class folder: left out",
                    len(paths) - len(kept), base)  # fmt: skip
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
):
    """The images under root as uint8 (N, channels, image_size, image_size), or a Dataset of
    uint8 (channels, image_size, image_size) when there are more than in_memory_max; with labels,
    as Labelled with each image's first-level subfolder as its class; with limit, a fixed random
    subset of the files, chosen by limit_seed before any is decoded."""
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
    files = ImageFiles(paths, image_size, channels, indices, classes)
    return hold_or_stream(files, in_memory_max, workers, str(base))
