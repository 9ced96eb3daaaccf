"""DiffAugment's policies (Zhao et al. 2020): differentiable colour, translation and cutout, each
applied to every image with probability 1 and fresh random parameters per image.

Images are float (B, C, H, W) in [-1, 1]. Every random draw is a torch draw on the images'
device and no value is read back to the host, so a CUDA graph can capture them. A strength of 1
is the paper's setting for colour (brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5]);
translation and cutout strengths are fractions of the image side (the paper: 1/8 and 1/2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _uniform(x: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Brightness, saturation (colour images only) and contrast, each a random affine change."""
    r = _uniform(x, 3, 1, 1, 1)  # (B, 3, 1, 1, 1): one draw per change
    x = x + (r[:, 0] - 0.5) * strength
    if x.shape[1] > 1:  # a grey image has no saturation to change
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (1 + (2 * r[:, 1] - 1) * strength) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (1 + (r[:, 2] - 0.5) * strength) + mean


def _side_shift(n: int, fraction: float) -> int:
    return int(n * fraction + 0.5)


def translation(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """Shift each image by whole pixels, up to fraction of its side either way; the uncovered
    border is 0 (mid grey), as in the paper. Nearest-pixel resampling at whole-pixel offsets
    copies pixels exactly, and its backward needs no host sync inside a CUDA graph."""
    b, _, h, w = x.shape
    sy, sx = _side_shift(h, fraction), _side_shift(w, fraction)
    ty = torch.randint(-sy, sy + 1, (b,), device=x.device) * (2 / h)  # grid units: a side is 2
    tx = torch.randint(-sx, sx + 1, (b,), device=x.device) * (2 / w)
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    theta = torch.stack([torch.stack([one, zero, tx], 1), torch.stack([zero, one, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """Zero one square of side fraction * side per image, at a random place (it may overhang)."""
    b, _, h, w = x.shape
    sh, sw = _side_shift(h, fraction), _side_shift(w, fraction)
    cy = torch.randint(0, h + (1 - sh % 2), (b, 1, 1), device=x.device) - sh // 2
    cx = torch.randint(0, w + (1 - sw % 2), (b, 1, 1), device=x.device) - sw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    hole = (ys >= cy) & (ys < cy + sh) & (xs >= cx) & (xs < cx + sw)  # (B, H, W)
    return x * (~hole).unsqueeze(1).to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: dict[str, float]) -> torch.Tensor:
    """The policies with a positive strength, in the paper's order (colour, translation,
    cutout)."""
    for name, op in POLICIES.items():
        if policy.get(name, 0) > 0:
            x = op(x, policy[name])
    return x
