"""scikit-learn's bundled handwritten digits: 1,797 real 8x8 scans that need no network at all."""

from __future__ import annotations

import numpy as np
import torch

from gantrain.data.labelled import Labelled
from gantrain.data.pixels import resize, to_channels
from gantrain.kinds import Channels, Flag, ImageSize


def load(
    image_size: ImageSize = 32, channels: Channels = 1, labels: Flag = False
) -> torch.Tensor | Labelled:
    """The digits as uint8 (1797, channels, image_size, image_size): white ink on black, as MNIST;
    with labels, as Labelled with the digit each shows."""
    from sklearn.datasets import load_digits  # heavy; only this dataset needs it

    digits = load_digits()
    ink = digits.images  # (1797, 8, 8) float, 0 (paper) .. 16 (ink)
    images = torch.from_numpy(np.rint(ink * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    images = resize(to_channels(images, channels), image_size)
    if not labels:
        return images
    return Labelled(images, torch.from_numpy(digits.target).long(), [str(d) for d in range(10)])
