"""torchvision's datasets: the MNIST family and CIFAR-10 held as one uint8 tensor (N, C, H, W);
CelebA as images read from disk (held or streamed by size, like an image folder)."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torchvision import datasets

from gantrain.data.labelled import Labelled, checked
from gantrain.data.pixels import resize, to_channels
from gantrain.data.subset import Limit, chosen
from gantrain.errors import UserError
from gantrain.kinds import Channels, Choice, Flag, ImageSize, Integer, PathText

log = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class TorchvisionFiles:
    """Where torchvision keeps a dataset under root, the files it needs, and where they come from."""

    cls: type
    folder: str
    files: tuple[str, ...]
    origin: str
    instead: str = ""  # another way to train on what the user may have; {where} is filled in


def _idx_files() -> tuple[str, ...]:
    # torchvision's MNIST classes insist on both splits being present
    return tuple(
        f"{p}-{kind}-idx{d}-ubyte"
        for p in ("train", "t10k")
        for kind, d in (("images", 3), ("labels", 1))
    )


def _idx_origin(cls: Any) -> str:  # a torchvision MNIST-family class
    return f"the .gz files from {cls.mirrors[0]}, unpacked"


SOURCES = {
    "mnist": TorchvisionFiles(
        datasets.MNIST, "MNIST/raw", _idx_files(), _idx_origin(datasets.MNIST)
    ),
    "fashion_mnist": TorchvisionFiles(
        datasets.FashionMNIST, "FashionMNIST/raw", _idx_files(), _idx_origin(datasets.FashionMNIST)
    ),
    "kmnist": TorchvisionFiles(
        datasets.KMNIST, "KMNIST/raw", _idx_files(), _idx_origin(datasets.KMNIST)
    ),
    "cifar10": TorchvisionFiles(
        datasets.CIFAR10,
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
        "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, unpacked into "
        "dataset.root",
    ),
    "celeba": TorchvisionFiles(
        datasets.CelebA,
        "celeba",
        (
            "img_align_celeba/",
            "list_eval_partition.txt",
            "identity_CelebA.txt",
            "list_attr_celeba.txt",
            "list_bbox_celeba.txt",
            "list_landmarks_align_celeba.txt",
        ),
        "img_align_celeba.zip (unzipped) and the Anno and Eval text files of 'Align&Cropped "
        "Images' from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
        "; with the images alone, use dataset=image_folder dataset.root={where}/img_align_celeba",
    ),
}

if TYPE_CHECKING:
    Name = str  # the names of SOURCES, checked by the schema at run time
else:
    Name = Choice(*(n for n in SOURCES if n != "celeba"))


def _missing_hint(src: TorchvisionFiles, where: Path) -> str:
    missing = [f for f in src.files if not (where / f.rstrip("/")).exists()]
    if missing:
        return (
            f"place {', '.join(missing)} ({src.origin}) in {where}, or set "
            f"dataset.root=<the directory holding {src.folder}>{src.instead.format(where=where)}"
        )
    # every file is there, so torchvision refused them on their checksums
    return (
        f"the files in {where} are incomplete or corrupt (torchvision's checksum check failed): "
        f"replace them with {src.origin}"
    )


def _download_reason(err: Exception) -> str:
    text = str(err)
    urlopen = re.findall(r"<urlopen error ([^>]*)>", text)
    if urlopen:
        return urlopen[-1]
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return first[:200]


def open_dataset(name: str, root: Path, download: bool, make: Callable[[bool], object]):
    """make(download) builds the torchvision dataset; missing files become one UserError line."""
    src = SOURCES[name]
    where = root / src.folder
    try:
        return make(False)
    except RuntimeError:
        pass  # not there yet (or corrupt): torchvision says both with a RuntimeError
    if not download:
        raise UserError(
            f"{name} not found in {where} and dataset.download=false: {_missing_hint(src, where)}"
        )
    log.info("downloading %s into %s", name, root)
    made = _missing_folders(where)  # torchvision creates these before it downloads
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # a closed network fails fast instead of hanging
    try:
        return make(True)
    except Exception as err:  # network errors come in many types; all mean "no files"
        _remove_empty(made)  # a refused command leaves no folders behind (dataset.root=/typo)
        hint = _missing_hint(src, where)
        if root in made:  # the default first run offline: say what to place, not only where
            hint = (
                f"dataset.root={root} does not exist: give the directory holding {src.folder}, "
                f"or place {', '.join(src.files)} ({src.origin}) in {where}"
            )
        raise UserError(
            f"{name} not found in {where} and the download failed ({_download_reason(err)}): {hint}"
        ) from None
    finally:
        socket.setdefaulttimeout(old)


def _missing_folders(where: Path) -> list[Path]:
    """where and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not where.exists() and where != where.parent:
        missing.append(where)
        where = where.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Folders this process created, deepest first, unless something was written into them
    (part of a download, which the next try reuses)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _as_nchw(name: str, ds) -> torch.Tensor:
    data = ds.data
    if name == "cifar10":
        return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()  # HWC -> (N, 3, 32, 32)
    return data.unsqueeze(1)  # (N, 1, 28, 28)


def load(
    name: Name,
    root: PathText,
    image_size: ImageSize = 28,
    channels: Channels = 1,
    download: Flag = True,
    train: Flag = True,
    labels: Flag = False,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
) -> torch.Tensor | Labelled:
    """Images of one split as uint8 (N, channels, image_size, image_size); with labels, as
    Labelled with the split's class indices and torchvision's class names; with limit, a fixed
    random subset of that many chosen by limit_seed (subset.py)."""
    cls = SOURCES[name].cls
    base = Path(root).expanduser().resolve()
    ds = open_dataset(name, base, download, lambda dl: cls(str(base), train=train, download=dl))
    images, targets = _as_nchw(name, ds), torch.as_tensor(ds.targets)
    idx = chosen(images.shape[0], limit, limit_seed, f"{name} in {base}")
    if idx is not None:
        images, targets = images[idx], targets[idx]
    images = resize(to_channels(images, channels), image_size)
    if not labels:
        return images
    classes = [str(c) for c in ds.classes]
    return Labelled(images, checked(targets, classes, name), classes)
