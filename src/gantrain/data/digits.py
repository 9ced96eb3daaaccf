"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 scans that need no network at all."""

from __future__ import annotations

import numpy as np
import torch

from gantrain.data.labelled import Labelled
from gantrain.data.pixels import resize, to_channels
from gantrain.data.subset import Limit, chosen
from gantrain.kinds import Channels, Flag, ImageSize, Integer


def load(
    image_size: ImageSize = 32,
    channels: Channels = 1,
    labels: Flag = False,
    limit: Limit | None = None,
    limit_seed: Integer = 0,
) -> torch.Tensor | Labelled:
    """The digits as uint8 (1797, channels, image_size, image_size): white ink on black, as MNIST;
    with labels, as Labelled with the digit each shows; with limit, a fixed random subset of
    that many chosen by limit_seed (subset.py)."""
    from sklearn.datasets import load_digits  # heavy; only this dataset needs it

    digits = load_digits()
    ink = digits.images  # (1797, 8, 8) float, 0 (paper) .. 16 (ink)
    images = torch.from_numpy(np.rint(ink * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    target = torch.from_numpy(digits.target).long()
    idx = chosen(images.shape[0], limit, limit_seed, "scikit-learn's digits")
    if idx is not None:
        images, target = images[idx], target[idx]
    images = resize(to_channels(images, channels), image_size)
    if not labels:
        return images
    return Labelled(images, target, [str(d) for d in range(10)])
