"""What every image source shares (image folders, CelebA, Hugging Face sets, gantrain-pack's
folders and archives): finding image files, ImageFiles (paths or other items decoded when asked
for), and hold_or_stream (held as one uint8 tensor (N, C, S, S) when small enough, else streamed
as a Dataset of uint8 (C, S, S)), which counts and skips the unreadable and the too large."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import torch
from torch.utils.data import DataLoader, Dataset

from gantrain.data.decode import (
    MAX_PIXELS,
    PLAIN,
    Recipe,
    TooLarge,
    decode,
    header_status,
)
from gantrain.data.labelled import Labelled
from gantrain.errors import UserError
from gantrain.files import is_regular

log = logging.getLogger(__name__)
EXTENSIONS = (".png", ".jpg", ".jpeg")
DECODE_BATCH = 256


class ImageFiles(Dataset):
    """Image files as uint8 (channels, image_size, image_size), decoded when asked for; with
    labels (one class index per path), (image, label) pairs. Other readers (hf.py) subclass it
    with their own source(i), name(i) and subset()."""

    def __init__(
        self,
        paths: list[Path],
        image_size: int,
        channels: int,
        labels: list[int] | None = None,
        classes: list[str] | None = None,
        recipe: Recipe = PLAIN,
    ):
        self.paths = list(paths)
        self.image_size = image_size
        self.channels = channels
        self.labels, self.classes = labels, classes
        self.recipe = recipe
        self.skipped = 0  # per process: each DataLoader worker counts what it skipped

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, keep: list[int]) -> ImageFiles:
        labels = None if self.labels is None else [self.labels[i] for i in keep]
        return ImageFiles(
            [self.paths[i] for i in keep],
            self.image_size,
            self.channels,
            labels,
            self.classes,
            self.recipe,
        )

    def source(self, i: int):
        """What the decoder reads for the i-th image: a path (here), bytes or an open file."""
        return self.paths[i]

    def name(self, i: int) -> str:
        """The i-th image as messages name it."""
        return str(self.paths[i])

    def header(self, i: int) -> str:
        """ "ok", "too large" or "unreadable", from the i-th image's header."""
        source = self.source(i)
        if isinstance(source, Path) and not is_regular(source):
            return "unreadable"
        return header_status(source)

    def read(self, i: int) -> torch.Tensor | None:
        """The i-th image, or None when the file cannot be decoded."""
        return self.read_status(i)[0]

    def read_status(self, i: int) -> tuple[torch.Tensor | None, str]:
        """(the i-th image or None, "ok" / "too large" / "unreadable")."""
        try:
            source = self.source(i)
            if isinstance(source, Path) and not is_regular(source):
                return None, "unreadable"  # a FIFO or device put here since: opening one blocks
            return decode(source, self.image_size, self.channels, self.recipe), "ok"
        except TooLarge:
            return None, "too large"
        except Exception:  # truncated, not an image, ...: all mean "skip it"
            return None, "unreadable"

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
                self.name(j),
                self.skipped,
            )
        raise UserError(f"none of the {len(self)} images could be decoded, e.g. {self.name(i)}")


STATUS = ("ok", "unreadable", "too large")


class _Flagged(Dataset):
    """(image or zeros, STATUS index) so that a decoding pass can count and drop bad files."""

    def __init__(self, files: ImageFiles):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        image, status = self.files.read_status(i)
        if image is None:
            s = self.files.image_size
            image = torch.zeros(self.files.channels, s, s, dtype=torch.uint8)
        return image, STATUS.index(status)


def _hold(files: ImageFiles, workers: int) -> tuple[torch.Tensor, list[int], dict]:
    """Decode every file once (workers in parallel) into uint8 (N_ok, C, S, S); the indices of
    the readable files and the bad paths by reason ("unreadable", "too large")."""
    s = files.image_size
    out = torch.empty(len(files), files.channels, s, s, dtype=torch.uint8)
    good_idx: list[int] = []
    bad: dict[str, list[str]] = {"unreadable": [], "too large": []}
    n, start = 0, 0
    loader = DataLoader(
        _Flagged(files),
        batch_size=DECODE_BATCH,
        num_workers=workers if len(files) > DECODE_BATCH else 0,  # spawning costs more than tiny
    )
    for images, status in loader:
        ok = status == 0
        good = images[ok]
        out[n : n + good.shape[0]] = good
        n += good.shape[0]
        good_idx += [start + k for k in ok.nonzero().flatten().tolist()]
        for k in (~ok).nonzero().flatten().tolist():
            bad[STATUS[status[k]]].append(files.name(start + k))
        start += ok.numel()
    return out[:n], good_idx, bad


def _check_headers(files: ImageFiles) -> tuple[ImageFiles, dict]:
    """Keep the files whose headers open within the pixel bound (cheap: decoding waits until
    each image is streamed); the others by reason."""
    with ThreadPoolExecutor(max_workers=8) as pool:  # file opening waits on the disk, not the GIL
        found = list(pool.map(files.header, range(len(files)), chunksize=64))
    bad = {r: [files.name(i) for i, f in enumerate(found) if f == r] for r in STATUS[1:]}
    return files.subset([i for i, f in enumerate(found) if f == "ok"]), bad


def _warn_skipped(bad: dict, total: int, what: str) -> None:
    if bad["too large"]:
        log.warning(
            "skipped %d images over %s pixels in %s (first: %s)",
            len(bad["too large"]),
            f"{MAX_PIXELS:,}",
            what,
            bad["too large"][0],
        )
    if bad["unreadable"]:
        log.warning(
            "skipped %d unreadable of %d images in %s (e.g. %s)",
            len(bad["unreadable"]),
            total,
            what,
            bad["unreadable"][0],
        )


def hold_or_stream(files: ImageFiles, in_memory_max: int, workers: int, what: str):
    """uint8 (N, C, S, S) when len(files) <= in_memory_max, else an ImageFiles to stream; as
    Labelled when the files have labels.

    Unreadable files are dropped with one warning that counts them; none readable is an error.
    """
    held = len(files) <= in_memory_max
    result: torch.Tensor | ImageFiles
    if held:
        log.info("decoding %d images from %s into memory", len(files), what)
        result, good_idx, bad = _hold(files, workers)
        n_ok = result.shape[0]
    else:
        log.info("checking %d images from %s; they stream from disk", len(files), what)
        result, bad = _check_headers(files)
        good_idx, n_ok = [], len(result)
    if n_ok == 0:
        first = (bad["unreadable"] or bad["too large"])[0]
        bound = f" or over {MAX_PIXELS:,} pixels" if bad["too large"] else ""
        raise UserError(
            f"none of the {len(files)} images in {what} could be read (e.g. {first}): check "
            f"that they are PNG or JPEG files{bound}"
        )
    _warn_skipped(bad, len(files), what)
    if files.labels is None:
        return result
    kept = files.subset(good_idx) if held else cast(ImageFiles, result)
    return Labelled(result, torch.tensor(kept.labels, dtype=torch.long), list(files.classes or []))


def find_images(root: Path) -> list[Path]:
    """Every .png/.jpg/.jpeg regular file under root, recursively, in a stable order; others
    under those names (FIFOs, devices: opening one waits forever) are left out with a warning
    that counts them."""
    found: list[Path] = []
    odd: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for path in (Path(folder) / n for n in sorted(names) if n.lower().endswith(EXTENSIONS)):
            (found if is_regular(path) else odd).append(path)
    if odd:
        log.warning(
            "skipped %d entries under %s that are not regular files (a FIFO, a device, "
            "a broken link; first: %s)",
            len(odd),
            root,
            odd[0],
        )
    return found
