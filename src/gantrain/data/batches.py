"""Random minibatches from a uint8 tensor held on the training device: no workers, no per-image
Python. Each epoch is a fresh permutation (like a shuffling DataLoader that drops the last
partial batch); the permutation generator's state travels in the checkpoint. With labels
(conditional runs), each batch is (images, labels), gathered by the same indices.

Several processes (rank of world) draw the same permutation and each takes its share of every
global batch of batch_size * world images, so the global batch is the one a single process
would draw."""

from __future__ import annotations

import torch

from gantrain.data.stacked import Stacked
from gantrain.errors import UserError


class TensorBatches:
    def __init__(
        self,
        images: torch.Tensor | Stacked,
        batch_size: int,
        device: torch.device,
        seed: int = 0,
        labels: torch.Tensor | None = None,
        classes: list[str] | None = None,
        rank: int = 0,
        world: int = 1,
    ):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise TypeError("images must be uint8 (N, C, H, W)")
        if batch_size * world > images.shape[0]:
            raise UserError(
                f"trainer.batch_size={batch_size * world} exceeds the {images.shape[0]} images "
                "in the dataset; choose a smaller batch"
            )
        self.images = images.to(device)  # (N, C, H, W) uint8, once
        self.labels = None if labels is None else labels.to(device)  # (N,) int64
        self.classes = classes
        self.batch_size = batch_size  # this process's share of each global batch
        self.rank, self.world = rank, world
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long)
        self.pos = 0

    def __len__(self) -> int:
        return self.images.shape[0]

    def indices(self) -> torch.Tensor:
        """The next batch's indices (B,) on the host, in the run's shuffled order: this rank's
        share of the global batch."""
        total = self.batch_size * self.world
        if self.pos + total > self.order.numel():
            self.order = torch.randperm(len(self), generator=self.generator)
            self.pos = 0
        start = self.pos + self.rank * self.batch_size
        self.pos += total
        return self.order[start : start + self.batch_size]

    def fixed(self, n: int, generator: torch.Generator):
        """n real images as uint8 (n, C, H, W) on the device (with labels: and their labels),
        chosen by generator (for pictures and prior fits; outside the training stream, so it
        does not disturb batch order)."""
        idx = torch.randperm(len(self), generator=generator)[:n].to(self.device)
        if self.labels is None:
            return self.images[idx]
        return self.images[idx], self.labels[idx]

    def gather(self, idx: torch.Tensor):
        """The images at idx (on the device) as float (B, C, H, W) in [-1, 1]; with labels, the
        pair (images, labels (B,))."""
        images = self.images.index_select(0, idx).float().div_(127.5).sub_(1.0)
        if self.labels is None:
            return images
        return images, self.labels.index_select(0, idx)

    def __call__(self):
        """The next batch as float (B, C, H, W) in [-1, 1] on the device (and its labels)."""
        return self.gather(self.indices().to(self.device, non_blocking=True))

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.pos = state["order"], int(state["pos"])
