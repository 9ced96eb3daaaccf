"""dataset.limit: train on a fixed random subset of a dataset, for data-limited experiments.

The subset is a function of (the dataset, limit, limit_seed) alone, not of the run's seed, so
runs with different seeds or augmentations see the same images. What metrics compare against
(the test split, the classifier's training data) is never limited: see without_limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from annotated_types import Gt

from gantrain.errors import UserError
from gantrain.kinds import Says

# the keys every dataset takes; metrics drop them to read the full splits
LIMIT_KEYS = ("limit", "limit_seed")
Limit = Annotated[int, Gt(0), Says("a positive number of images")]


def chosen(n: int, limit: int | None, limit_seed: int, what: str) -> torch.Tensor | None:
    """Sorted indices of the `limit` images kept out of n; None keeps them all.

    A limit above n is a mistake (the run would silently train on all of them), so it is refused.
    """
    if limit is None:
        return None
    if limit > n:
        raise UserError(
            f"dataset.limit={limit} exceeds the {n} images in {what}: choose dataset.limit={n} "
            "or fewer, or dataset.limit=null for all"
        )
    g = torch.Generator().manual_seed(limit_seed)
    return torch.randperm(n, generator=g)[:limit].sort().values


def limit_tensor(images: torch.Tensor, limit: int | None, limit_seed: int, what: str):
    """uint8 (N, C, H, W) -> (limit, C, H, W), the same images for the same limit_seed."""
    idx = chosen(images.shape[0], limit, limit_seed, what)
    return images if idx is None else images[idx]


def limit_list(items: Sequence, limit: int | None, limit_seed: int, what: str) -> list:
    """The kept items of a list (image files, before any is decoded)."""
    idx = chosen(len(items), limit, limit_seed, what)
    return list(items) if idx is None else [items[i] for i in idx.tolist()]


def without_limit(dataset_cfg: dict) -> dict:
    """A dataset config that reads the whole split: references are never limited."""
    return {k: v for k, v in dataset_cfg.items() if k not in LIMIT_KEYS}
