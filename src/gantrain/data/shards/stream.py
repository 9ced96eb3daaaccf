"""Minibatches streamed from packed shards by DataLoader workers, split over ranks and workers
so that each sample is seen once per epoch across all of them (order.py), resumable to
the batch. Same interface as TensorBatches and StreamBatches.

Each worker serves one stream and yields whole batches from it; the DataLoader takes them from
the workers in turn, so the training step's t-th batch comes from stream t mod W. The state is
the number of batches drawn: from it every stream's position follows, the same on every rank,
so rank 0's checkpoint resumes all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from gantrain.data.shards import order
from gantrain.data.shards.files import (
    BadShard,
    Entry,
    bad_shard_error,
)
from gantrain.data.shards.reader import ShardSet
from gantrain.data.stream import PREFETCH_PER_WORKER, worker_death, worker_died
from gantrain.errors import UserError

log = logging.getLogger(__name__)
WAIT_S = 900  # a worker silent this long is reported, not waited on forever
FIXED_CACHE = 2


class _Streams(IterableDataset):
    """What a worker runs: the batches of one stream, from the position `taken` implies."""

    def __init__(
        self,
        shards: ShardSet,
        units: list[np.ndarray],
        batch_size: int,
        seed: int,
        rank: int,
        workers: int,
        world: int,
        taken: int,
    ):
        self.shards, self.units, self.batch_size, self.seed = shards, units, batch_size, seed
        self.rank, self.workers, self.world, self.taken = rank, workers, world, taken
        self.sizes = [u.size for u in units]
        self.unit_entry = [shards.entry_of(int(u[0])) for u in units]

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        local = (self.taken + (info.id if info else 0)) % self.workers
        drawn = self.taken // self.workers + (local < self.taken % self.workers)
        yield from self._batches(local, drawn)

    def _batches(self, local: int, drawn: int) -> Iterator[dict]:
        k, streams = self.rank * self.workers + local, self.world * self.workers
        epoch, start = order.position(drawn * self.batch_size, self.sizes, self.seed, k, streams)
        images, labels = [], []
        skipped: list[str] = []
        try:
            while True:
                share = order.shares(self.sizes, self.seed, epoch, streams)[k]
                emitted = order.emission(self.units, share, self.shards.buffer, self.seed, epoch, k)
                for image, label in self._read(emitted[start:], share, skipped):
                    images.append(image)
                    labels.append(label)
                    if len(images) == self.batch_size:
                        yield {
                            "images": torch.stack(images),
                            "labels": torch.tensor(labels),
                            "stream": local,
                            "skipped": list(skipped),
                        }
                        images, labels = [], []
                        skipped.clear()  # _read adds the next ones to this same list
                epoch, start = epoch + 1, 0
        except Exception as err:  # (not BadShard by name: teardown may have cleared it)
            if not isinstance(err, BadShard):
                raise
            yield {"error": err.why, "name": err.name}  # the training process says it in a line

    def _read(self, emitted: np.ndarray, share: list[int], skipped: list[str]):
        """(image, label) for each index of emitted, in order, reading the share's units as
        the order needs them: held are only the samples read but not yet yielded."""
        needed = set(emitted.tolist())
        held: dict[int, tuple[bytes, int]] = {}
        missing: set[int] = set()
        units = iter(share)
        for idx in emitted.tolist():
            while idx not in held and idx not in missing:
                u = next(units)
                want = [i for i in self.units[u].tolist() if i in needed]
                if not want:
                    continue  # read wholly before the position a resumed run starts from
                try:
                    found = self.shards.read(self.unit_entry[u])
                    held.update((i, found[i]) for i in want)
                except BadShard as err:
                    if self.shards.on_bad_shard != "skip":
                        raise
                    missing.update(want)
                    skipped.append(str(err))
            if idx in missing:
                continue
            data, label = held.pop(idx)
            yield self.shards.decode(idx, data), label


class ShardBatches:
    def __init__(
        self,
        shards: ShardSet,
        batch_size: int,
        device: torch.device,
        seed: int = 0,
        workers: int = 2,
        rank: int = 0,
        world: int = 1,
    ):
        n = len(shards)
        if batch_size * world > n:  # batch_size: this rank's share of one step's batch
            raise UserError(
                f"trainer.batch_size={batch_size * world} exceeds the {n} images in "
                "the dataset; choose a smaller batch"
            )
        self.shards, self.batch_size, self.device = shards, batch_size, torch.device(device)
        self.seed, self.workers, self.rank, self.world = seed, workers, rank, world
        self.streams = max(1, workers)  # workers=0: one stream, read in this process
        self.units = order.units_of(shards.kept, self.streams * world)
        if len(self.units) < self.streams * world:
            raise UserError(
                f"{n} images cannot feed {self.streams * world} readers (ranks x "
                "dataset.workers): use fewer dataset.workers"
            )
        self.classes = shards.classes
        self.taken = 0  # batches drawn by this process since the run began
        self.skipped = 0
        self._it: Iterator | None = None
        self._loader: DataLoader | None = None
        self._fixed: list[tuple[torch.Tensor, object]] = []

    def __len__(self) -> int:
        return len(self.shards)

    def _start(self) -> None:
        data = _Streams(
            self.shards,
            self.units,
            self.batch_size,
            self.seed,
            self.rank,
            self.streams,
            self.world,
            self.taken,
        )
        if self.workers == 0:
            self._it = iter(data)
            return
        self._loader = DataLoader(
            data,
            batch_size=None,
            num_workers=self.workers,
            timeout=WAIT_S,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=PREFETCH_PER_WORKER,
            # the workers' seeds come from here, not from the global generator the noise is
            # drawn from: a resumed run's new iterator leaves that generator where it was
            generator=torch.Generator().manual_seed(self.seed),
        )
        self._it = iter(self._loader)

    def _next(self) -> dict:
        if self._it is None:
            self._start()
        try:
            item = next(self._it)  # type: ignore[arg-type]  # _start set it
        except RuntimeError as err:
            if "timed out" in str(err):
                self._it = None
                raise UserError(
                    f"no batch came from the shards in {self.shards.root} for "
                    f"{WAIT_S} s: check that it can be reached"
                ) from None
            if self.workers == 0 or not worker_died(err):
                raise
            raise worker_death(err, self.workers) from None
        except (ConnectionError, EOFError) as err:
            raise worker_death(err, self.workers) from None
        if "error" in item:
            self._it = None
            raise bad_shard_error(BadShard(item["name"], item["error"]), self.shards.root)
        return item

    def __call__(self):
        """The next batch as float (B, C, H, W) in [-1, 1] on the device (and its labels)."""
        item = self._next()
        assert item["stream"] == self.taken % self.streams, "batches came out of turn"
        self.taken += 1
        for line in item["skipped"]:
            self.skipped += 1
            log.warning(
                "skipped: %s (%d shards skipped; dataset.on_bad_shard=skip); a "
                "resumed run may see other batches than an uninterrupted one",
                line,
                self.skipped,
            )
        images = item["images"].to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)
        if self.classes is None:
            return images
        return images, item["labels"].to(self.device, non_blocking=True)

    def fixed(self, n: int, generator: torch.Generator):
        """n real images as uint8 (n, C, H, W) on the device (with labels: and their labels),
        chosen by generator among the first shards' images; outside the training stream."""
        # the first shards holding n kept images: counted, not read
        first: list[tuple[Entry, np.ndarray]] = []
        for entry, kept in zip(self.shards.entries, self.shards.kept):
            if sum(k.size for _, k in first) >= n:
                break
            if kept.size:
                first.append((entry, kept))
        idx = torch.randperm(sum(k.size for _, k in first), generator=generator)[:n]
        for key, images in self._fixed:
            if torch.equal(key, idx):
                return images
        pool: list[tuple[torch.Tensor, int]] = []
        for entry, kept in first:
            found = self.shards.read(entry)
            pool += [(self.shards.decode(i, found[i][0]), found[i][1]) for i in kept.tolist()]
        images = torch.stack([pool[i][0] for i in idx.tolist()]).to(self.device)
        if self.classes is not None:
            images = (images, torch.tensor([pool[i][1] for i in idx.tolist()]).to(self.device))
        self._fixed = [(idx, images), *self._fixed][:FIXED_CACHE]
        return images

    def state_dict(self) -> dict:
        return {
            "taken": self.taken,
            "n": len(self),
            "streams": self.streams,
            "world": self.world,
            "buffer": self.shards.buffer,
        }

    def load_state_dict(self, state: dict) -> None:
        now = {
            "n": len(self),
            "streams": self.streams,
            "world": self.world,
            "buffer": self.shards.buffer,
        }
        words = {
            "n": "the number of images",
            "streams": "dataset.workers",
            "world": "the number of processes",
            "buffer": "dataset.buffer",
        }
        changed = [words[k] for k, v in now.items() if state.get(k) != v]
        if "taken" not in state or changed:
            log.warning(
                "the data order does not carry over from the checkpoint (%s changed); "
                "a new one starts",
                ", ".join(changed) or "the data source",
            )
            self.taken = 0
        else:
            self.taken = int(state["taken"])
        self._it = None  # the next batch comes from the restored position
