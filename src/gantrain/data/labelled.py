"""Images with their class labels, for conditional runs.

A loader asked for labels returns Labelled(images, labels, classes): images as it would return
them (a uint8 tensor, or a Dataset that then yields (image, label) pairs), labels int64 (N,),
and the class names in index order. A training batch is then (images, labels) instead of images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from gantrain.errors import UserError


class Labelled(NamedTuple):
    images: object  # uint8 (N, C, H, W), or a Dataset of (uint8 (C, H, W), int label)
    labels: torch.Tensor  # int64 (N,)
    classes: list[str]


def split(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(images, labels) of a batch; labels None for an unconditional one."""
    if isinstance(batch, tuple | list):
        return batch[0], batch[1]
    return batch, None


def images_of(source):
    """What a loader returned, without its labels."""
    return source.images if isinstance(source, Labelled) else source


def no_labels(what: str, instead: str) -> UserError:
    """The refusal of conditional=true for a dataset without classes."""
    return UserError(f"conditional=true needs class labels, and {what} has none: {instead}")


def checked(labels: torch.Tensor | Sequence[int], classes: list[str], what: str) -> torch.Tensor:
    """labels as int64 (N,), refused when fewer than two classes would be learned."""
    if len(classes) < 2:
        raise UserError(
            f"conditional=true needs at least 2 classes; {what} has {len(classes)} "
            f"({', '.join(classes) or 'none'}): give it a subfolder per class"
        )
    return torch.as_tensor(labels, dtype=torch.long).reshape(-1)
