"""Datasets -> uint8 tensors held on the device, or streaming loaders; both batch the same way."""

from __future__ import annotations

from typing import cast

import torch
from torch.utils.data import Dataset

from gantrain.data.batches import TensorBatches
from gantrain.data.labelled import Labelled, images_of
from gantrain.data.shards.reader import ShardSet
from gantrain.data.shards.stream import ShardBatches
from gantrain.data.stacked import Stacked
from gantrain.data.stream import StreamBatches


def make_batches(
    source,
    batch_size: int,
    device: torch.device,
    seed: int,
    workers: int = 2,
    rank: int = 0,
    world: int = 1,
):
    """A callable giving the next training batch (B, C, H, W) in [-1, 1] on the device.

    batch_size: this process's share; rank of world processes, which all pass the run's seed.

    source: what a dataset config's _target_ returned: a uint8 tensor (N, C, H, W), held on the
    device and batched by index; or a Dataset of uint8 (C, H, W) images, streamed through a
    DataLoader with `workers` processes (dataset.workers). Labelled sources give
    (images, labels) batches.
    """
    if isinstance(images_of(source), ShardSet):
        return ShardBatches(images_of(source), batch_size, device, seed, workers, rank, world)
    if isinstance(source, Labelled):
        if isinstance(source.images, torch.Tensor | Stacked):
            return TensorBatches(
                source.images,
                batch_size,
                device,
                seed=seed,
                labels=source.labels,
                classes=source.classes,
                rank=rank,
                world=world,
            )
        return StreamBatches(
            cast(Dataset, source.images),
            batch_size,
            device,
            seed=seed,
            workers=workers,
            classes=source.classes,
            rank=rank,
            world=world,
        )
    if isinstance(source, torch.Tensor | Stacked):
        return TensorBatches(source, batch_size, device, seed=seed, rank=rank, world=world)
    if isinstance(source, Dataset):
        return StreamBatches(
            source, batch_size, device, seed=seed, workers=workers, rank=rank, world=world
        )
    raise TypeError(f"a dataset loader returned {type(source).__name__}, not a tensor or Dataset")
