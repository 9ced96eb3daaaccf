"""CelebA's aligned faces through torchvision: held or streamed by size, like an image folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from torchvision import datasets

from gantrain.data.image_files import ImageFiles, hold_or_stream
from gantrain.data.labelled import no_labels
from gantrain.data.subset import Limit, limit_list
from gantrain.data.torchvision_sets import open_dataset
from gantrain.files import plain_name
from gantrain.kinds import NOT_A_FLAG, Channels, Count, Flag, ImageSize, Integer, PathText

Split = Annotated[Literal["train", "valid", "test", "all"], NOT_A_FLAG]


def load(
    root: PathText,
    image_size: ImageSize = 64,
    channels: Channels = 3,
    download: Flag = True,
    split: Split = "train",
    in_memory_max: Count = 50000,
    workers: Count = 2,
    labels: Flag = False,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
):
    """CelebA's aligned faces, shorter side resized to image_size and centre-cropped: a uint8
    tensor when at most in_memory_max images, else a Dataset that streams them; with limit, a
    fixed random subset of the split's files, chosen by limit_seed."""
    if labels:  # 40 binary attributes and identities, but no classes to draw one of
        raise no_labels(
            "dataset=celeba",
            "for classes of your own, sort the images into one subfolder per class and use "
            "dataset=image_folder dataset.root=<that folder>",
        )
    base = Path(root).expanduser().resolve()
    ds = open_dataset(
        "celeba",
        base,
        download,
        lambda dl: datasets.CelebA(str(base), split=split, target_type=[], download=dl),
    )
    folder = base / "celeba" / "img_align_celeba"
    # the names come from the download's list_eval_partition.txt: data, checked to stay in folder
    names = [plain_name(f, str(folder), "celeba's list_eval_partition.txt") for f in ds.filename]
    paths = limit_list([folder / f for f in names], limit, limit_seed, f"celeba ({split})")
    files = ImageFiles(paths, image_size, channels)
    return hold_or_stream(files, in_memory_max, workers, f"celeba ({split}) in {folder}")
