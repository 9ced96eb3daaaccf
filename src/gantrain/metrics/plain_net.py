"""The second judge's net (metrics/judges.py): a digit classifier built unlike
classifier.DigitClassifier, so that the two share nothing but their training data."""

from __future__ import annotations

import torch
from torch import nn

FEATURES = 128  # as wide as the first judge's features


class PlainClassifier(nn.Module):
    """The second judge's net: no batch norm, no pooling layers (strided 5x5 and 3x3 convolutions,
    GELU), wider. uint8 (B, C, H, W) -> (features (B, 128), logits (B, classes))."""

    def __init__(self, channels: int, num_classes: int, width: int = 24):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 5, stride=2, padding=2),
            nn.GELU(),  # (B, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.GELU(),  # (B, 2w, H/4, W/4)
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),  # (B, 32w)
            nn.Linear(32 * w, FEATURES),
            nn.GELU(),
        )
        self.head = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype == torch.uint8:
            x = x.float().div(127.5).sub(1.0)
        features = self.body(x)
        return features, self.head(features)
