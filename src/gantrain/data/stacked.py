"""Stacked MNIST (Metz et al. 2016): three MNIST digits as the R, G and B channels of one image,
so the data has 1,000 equally likely modes, the 3-digit numbers 000..999.

Only the digits (N, 1, H, W) and the index triples (size, 3) are held; each image is composed
when it is gathered, so 128,000 stacked images cost the memory of the digits, and a batch is two
index_selects on the device that a CUDA graph can capture. Stacked duck-types the uint8 tensor
TensorBatches holds (dtype, dim, shape, to, index_select, indexing).
"""

from __future__ import annotations

from typing import cast

import torch

from gantrain.data import torchvision_sets
from gantrain.data.labelled import Labelled
from gantrain.data.subset import Limit, chosen
from gantrain.errors import UserError
from gantrain.kinds import Channels, Flag, ImageSize, Integer, PathText, PositiveInt

NUM_MODES = 1000
TEST_SIZE = 10_000  # stacked test images: what metrics compare against (they read 10,000 at most)
TEST_SEED_OFFSET = 1_000_003  # the test split's triples come from a seed of their own


class Stacked:
    """size stacked images, uint8 (size, 3, H, W), composed from digits at triples."""

    dtype = torch.uint8

    def __init__(self, digits: torch.Tensor, triples: torch.Tensor):
        self.digits = digits  # (N, 1, H, W) uint8
        self.triples = triples  # (size, 3) int64, indices into digits

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.triples.shape[0], 3, *self.digits.shape[2:]))

    @property
    def device(self) -> torch.device:
        return self.digits.device

    def dim(self) -> int:
        return 4

    def __len__(self) -> int:
        return self.triples.shape[0]

    def to(self, device, non_blocking: bool = False) -> Stacked:
        return Stacked(
            self.digits.to(device, non_blocking=non_blocking),
            self.triples.to(device, non_blocking=non_blocking),
        )

    def index_select(self, dim: int, idx: torch.Tensor) -> torch.Tensor:
        """The images at idx as uint8 (B, 3, H, W)."""
        if dim != 0:
            raise ValueError("stacked images are selected along the batch dimension only")
        picks = self.triples.index_select(0, idx.to(self.triples.device)).reshape(-1)  # (3B,)
        return self.digits.index_select(0, picks).view(idx.numel(), 3, *self.digits.shape[2:])

    def __getitem__(self, idx) -> torch.Tensor:
        if isinstance(idx, int):
            return self.index_select(0, torch.tensor([idx]))[0]
        if isinstance(idx, slice):
            idx = torch.arange(len(self))[idx]
        return self.index_select(0, torch.as_tensor(idx, dtype=torch.long))

    def materialise(self) -> torch.Tensor:
        """Every image at once (for small sets: the metrics' reference images)."""
        return self.index_select(0, torch.arange(len(self), device=self.triples.device))


def triples(num_digits: int, size: int, seed: int) -> torch.Tensor:
    """(size, 3) int64: independent uniform draws of digit indices, a function of the seed alone."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_digits, (size, 3), generator=g)


def mode_labels(digit_labels: torch.Tensor, picks: torch.Tensor) -> torch.Tensor:
    """(size,) int64: 100 * red digit + 10 * green digit + blue digit."""
    d = digit_labels.long()[picks]  # (size, 3)
    return d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]


def load(
    root: PathText,
    image_size: ImageSize = 28,
    channels: Channels = 3,
    download: Flag = True,
    train: Flag = True,
    labels: Flag = False,
    size: PositiveInt = 128_000,
    stack_seed: Integer = 0,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
) -> Stacked | Labelled:
    """size stacked images of one MNIST split (the test split: min(size, 10,000) from the test
    digits, with a seed of their own); with labels, Labelled with the 1,000 3-digit classes;
    with limit, a fixed random subset of that many stacked images (subset.py)."""
    if channels != 3:
        raise UserError(
            f"dataset.channels={channels}: stacked_mnist images are RGB (one digit per channel); "
            "set dataset.channels=3, or use dataset=mnist for grey digits"
        )
    source = torchvision_sets.load("mnist", root, image_size, 1, download, train, labels=True)
    assert isinstance(source, Labelled)  # labels=True
    digits, digit_labels = cast(torch.Tensor, source.images), source.labels
    n = size if train else min(size, TEST_SIZE)
    picks = triples(digits.shape[0], n, stack_seed if train else stack_seed + TEST_SEED_OFFSET)
    idx = chosen(n, limit, limit_seed, f"stacked_mnist (dataset.size={size})")
    if idx is not None:
        picks = picks[idx]
    stacked = Stacked(digits.contiguous(), picks)
    if not labels:
        return stacked
    classes = [f"{m:03d}" for m in range(NUM_MODES)]
    return Labelled(stacked, mode_labels(digit_labels, picks), classes)
