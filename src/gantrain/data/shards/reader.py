"""The training part of a shard set as a run reads it: which shard holds an index, a shard's
samples, and an image decoded at the run's size and channels (a bad one named by its shard)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import torch

from gantrain.data.decode import MAX_PIXELS, TooLarge
from gantrain.data.pixels import resize
from gantrain.data.shards.files import (
    TIMEOUT_S,
    BadShard,
    Entry,
    decode_image,
    fetch,
    samples,
)


@dataclass
class ShardSet:
    """The training part of a shard set, as load() gives it when it streams."""

    root: str
    entries: list[Entry]
    kept: list[np.ndarray]  # per entry: the sorted global indices trained on
    image_size: int
    channels: int
    classes: list[str] | None  # set when training with labels
    on_bad_shard: str = "error"  # or "skip"
    buffer: int = 1000
    timeout: float = TIMEOUT_S  # seconds a remote root may stay silent (dataset.timeout)

    def __len__(self) -> int:
        return sum(k.size for k in self.kept)

    def entry_of(self, idx: int) -> Entry:
        return self.entries[bisect.bisect_right([e.first for e in self.entries], idx) - 1]

    def read(self, entry: Entry) -> dict[int, tuple[bytes, int]]:
        return samples(fetch(self.root, entry, self.timeout), entry, self.classes is not None)

    def decode(self, idx: int, data: bytes) -> torch.Tensor:
        """uint8 (C, S, S) at the run's size and channels (the pack's, unless asked otherwise)."""
        try:
            image = decode_image(data, self.channels)
        except TooLarge as err:
            raise BadShard(
                self.entry_of(idx).name,
                f"holds an image over {MAX_PIXELS:,} pixels ({idx:09d}: {err})",
            ) from None
        except Exception:  # PIL raises many types for a bad file
            raise BadShard(
                self.entry_of(idx).name, f"holds an unreadable image ({idx:09d})"
            ) from None
        if image.shape[-1] != self.image_size or image.shape[-2] != self.image_size:
            image = resize(image[None], self.image_size)[0]
        return image
