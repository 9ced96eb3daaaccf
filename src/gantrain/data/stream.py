"""Minibatches streamed from a Dataset of uint8 images too big to hold: DataLoader workers decode
ahead of the step into pinned memory, batches cross to the device without blocking, and are
normalised there. Same interface as TensorBatches.

Order: epoch e is a permutation drawn from (seed, e) alone, dropping the last partial batch.
The state is (epoch, batches taken in it), so a resumed run rebuilds that epoch's permutation and
continues from the next unseen batch: the same sequence of batches as a run never stopped.
A Dataset of (image, label) pairs gives (images, labels) batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sized
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from gantrain.errors import UserError

log = logging.getLogger(__name__)
PREFETCH_PER_WORKER = 4  # batches each worker decodes ahead of the step
FIXED_CACHE = 2  # fixed() image sets kept: the trainer asks for the same one or two each milestone


def worker_died(err: BaseException) -> bool:
    """Whether err is how a DataLoader reports a worker the system killed: in words from its
    SIGCHLD handler, or as a broken pipe mid-batch."""
    text = str(err)
    return isinstance(err, ConnectionError | EOFError) or (
        "DataLoader worker" in text and ("killed" in text or "exited" in text)
    )


def worker_death(err: BaseException, workers: int | None = None) -> UserError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    fewer = f"fewer processes than {workers}" if workers else "fewer processes"
    return UserError(
        f"a DataLoader worker died ({first}), most often killed by the system for lack of "
        f"memory: give dataset.workers {fewer} (dataset.workers=0 decodes in the training "
        "process)"
    )


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of range(n) for one epoch, a function of (seed, epoch) only."""
    # SeedSequence mixes the pair, so (seed 0, epoch 1) and (seed 1, epoch 0) differ
    mixed = int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0])
    g = torch.Generator().manual_seed(mixed & ((1 << 63) - 1))
    return torch.randperm(n, generator=g)


class _EpochSampler(Sampler[int]):
    """Indices of the current epoch's permutation from position `start` on; with several
    processes, this rank's share (of `share` images) of each global batch."""

    def __init__(self, n: int, seed: int, share: int = 1, rank: int = 0, world: int = 1):
        self.n, self.seed = n, seed
        self.share, self.rank, self.world = share, rank, world
        self.epoch, self.start = 0, 0

    def _mine(self) -> torch.Tensor:
        order = epoch_order(self.n, self.seed, self.epoch)
        if self.world == 1:
            return order
        total = self.share * self.world  # (batches, world, share): the rank's column
        order = order[: self.n // total * total].view(-1, self.world, self.share)
        return order[:, self.rank].reshape(-1)

    def __iter__(self) -> Iterator[int]:
        return iter(self._mine()[self.start :].tolist())

    def __len__(self) -> int:
        return len(self._mine()) - self.start


class StreamBatches:
    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device,
        seed: int = 0,
        workers: int = 2,
        classes: list[str] | None = None,
        rank: int = 0,
        world: int = 1,
    ):
        n = len(cast(Sized, dataset))
        if batch_size * world > n:
            raise UserError(
                f"trainer.batch_size={batch_size * world} exceeds the {n} images in the "
                "dataset; choose a smaller batch"
            )
        self.dataset = dataset
        self.classes = classes  # set when the dataset yields (image, label) pairs
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.seed = seed
        self.workers = workers
        self.pin = self.device.type == "cuda"  # page-locked host memory lets the copy overlap
        self.sampler = _EpochSampler(n, seed, batch_size, rank, world)
        self.epoch, self.pos = 0, 0
        self._loader = self._make_loader()
        self._it: Iterator[Any] | None = None
        self._fixed: list[tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, ...]]] = []

    def _make_loader(self) -> DataLoader:
        extra: dict[str, Any] = {}
        if self.workers > 0:
            # persistent: workers live across epochs instead of being forked again each time
            extra = {"persistent_workers": True, "prefetch_factor": PREFETCH_PER_WORKER}
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.workers,
            pin_memory=self.pin,
            drop_last=True,
            # each new iterator draws its workers' base seed from this generator, not from the
            # global one the model samples its noise from: a resumed run, which starts an
            # iterator mid-epoch, then draws the same noise as one never stopped
            generator=torch.Generator().manual_seed(self.seed),
            **extra,
        )

    def __len__(self) -> int:
        return len(cast(Sized, self.dataset))

    def _next_uint8(self):
        while True:
            if self._it is None:
                self.sampler.epoch, self.sampler.start = self.epoch, self.pos * self.batch_size
                self._it = iter(self._loader)
            batch = self._fetch()
            if batch is not None:
                self.pos += 1
                return batch  # (B, C, H, W) uint8, or [that, labels (B,)]
            self._it = None
            self.epoch, self.pos = self.epoch + 1, 0

    def _fetch(self):
        try:
            return next(self._it, None) if self._it is not None else None
        except (RuntimeError, ConnectionError, EOFError) as err:
            if self.workers == 0 or not worker_died(err):
                raise
            self._stop_workers()
            raise worker_death(err, self.workers) from None

    def _stop_workers(self) -> None:
        """Shut the iterator's workers down; torch then stops watching their pids, so the death
        is reported once, here, not again from its SIGCHLD handler at a random later moment."""
        for _ in range(3):
            try:
                if self._it is not None:
                    self._it._shutdown_workers()  # type: ignore[attr-defined]  # torch's own iterator
                break
            except RuntimeError:  # the SIGCHLD handler's report of the same death
                continue
        self._it = None

    def __call__(self):
        """The next batch as float (B, C, H, W) in [-1, 1] on the device (and its labels)."""
        batch = self._next_uint8()
        labels = None
        if self.classes is not None:
            batch, labels = batch
        images = batch.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if labels is None:
            return images
        return images, labels.to(self.device, non_blocking=True)

    def fixed(self, n: int, generator: torch.Generator):
        """n real images as uint8 (n, C, H, W) on the device (with labels: and their labels),
        chosen by generator as TensorBatches chooses them; outside the training stream, so batch
        order is undisturbed."""
        idx = torch.randperm(len(self), generator=generator)[:n]
        for key, cached in self._fixed:
            if torch.equal(key, idx):
                return cached
        loader = DataLoader(
            Subset(self.dataset, idx.tolist()),
            batch_size=max(self.batch_size, 64),
            num_workers=self.workers if n > 256 else 0,
            generator=torch.Generator(),  # not the global generator, as above
        )
        parts = list(loader)
        images: torch.Tensor | tuple[torch.Tensor, ...]
        if self.classes is None:
            images = torch.cat(parts).to(self.device)
        else:
            images = tuple(torch.cat(p).to(self.device) for p in zip(*parts))
        self._fixed = [(idx, images), *self._fixed][:FIXED_CACHE]
        return images

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "n": len(self)}

    def load_state_dict(self, state: dict) -> None:
        if "epoch" not in state or int(state.get("n", -1)) != len(self):
            # a checkpoint from in-memory batches or from a dataset that has since changed
            log.warning("the data order does not carry over from the checkpoint; a new one starts")
            self.epoch, self.pos = 0, 0
        else:
            self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._it = None  # the next batch comes from the restored position
