"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 scans that need no network at all."""

from __future__ import annotations

import numpy as np
import torch

from gantrain.data.pixels import resize, to_channels
from gantrain.data.subset import Limit, limit_tensor
from gantrain.kinds import Channels, ImageSize, Integer


def load(
    image_size: ImageSize = 32,
    channels: Channels = 1,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
) -> torch.Tensor:
    """The digits as uint8 (1797, channels, image_size, image_size): white ink on black, as MNIST;
    with limit, a fixed random subset of that many chosen by limit_seed (subset.py)."""
    from sklearn.datasets import load_digits  # heavy; only this dataset needs it

    ink = load_digits().images  # (1797, 8, 8) float, 0 (paper) .. 16 (ink)
    images = torch.from_numpy(np.rint(ink * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    images = limit_tensor(images, limit, limit_seed, "scikit-learn's digits")
    return resize(to_channels(images, channels), image_size)
