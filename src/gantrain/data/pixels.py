"""Image tensors to the size and channels a run asks for: uint8 (N, C, H, W) in, uint8 out."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (N, C, h, w) -> uint8 (N, C, S, S) by bilinear resampling, only when sizes differ."""
    if images.shape[-1] == image_size and images.shape[-2] == image_size:
        return images
    out = F.interpolate(
        images.float(),
        size=(image_size, image_size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    return out.round().clamp(0, 255).to(torch.uint8)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, 1|3, H, W) -> uint8 (N, channels, H, W); RGB to grey by ITU-R 601 luma, as PIL."""
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    grey = (images.float() * weights).sum(1, keepdim=True)
    return grey.round().clamp(0, 255).to(torch.uint8)
