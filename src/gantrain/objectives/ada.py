"""The adaptive augmentation pipeline's transforms (Karras et al. 2020, ADA: 'bgc'), each applied
to an image with probability p, which a device tensor holds.

Geometric: x-flip, rotation by a multiple of 90 degrees, integer translation (up to 1/8 of the
side), isotropic scaling (log2 ~ N(0, 0.2^2)), arbitrary rotation (twice, each with probability
1 - sqrt(1 - p)), anisotropic scaling and fractional translation (N(0, 0.125^2) of the side),
composed into one affine map per image and resampled bilinearly with reflection at the edges
(ADA pads by reflection too; its anti-aliasing filters are left out: at 28-64 px they cost more
than they change). Colour: brightness (+N(0, 0.2^2)), contrast (x 2^N(0, 0.5^2)); for colour
images also luma flip, hue rotation about the grey axis and saturation (x 2^N(0, 1)).

A transform not applied is the identity, so every image passes through the same kernels
whatever p is: no host sync, no branch on data, as a CUDA graph needs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SCALE_STD, FRAC_STD, INT_MAX = 0.2, 0.125, 0.125
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.5, 1.0


def _gate(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """(B,) 1.0 where a transform applies (probability p), else 0.0."""
    return (torch.rand(x.shape[0], device=x.device) < p).float()


def _normal(x: torch.Tensor, n: int = 1) -> torch.Tensor:
    return torch.randn(x.shape[0], n, device=x.device).squeeze(1)


def _matrix(a, b, c, d, tx, ty) -> torch.Tensor:
    """(B, 3, 3) affine maps [[a, b, tx], [c, d, ty], [0, 0, 1]] from (B,) entries."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    rows = [
        torch.stack([a, b, tx], 1),
        torch.stack([c, d, ty], 1),
        torch.stack([zero, zero, one], 1),
    ]
    return torch.stack(rows, 1)


def _rotation(theta: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(theta)
    return _matrix(theta.cos(), -theta.sin(), theta.sin(), theta.cos(), zero, zero)


def _scaling(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(sx)
    return _matrix(sx, zero, zero, sy, zero, zero)


def _translation(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    return _matrix(one, zero, zero, one, tx, ty)


def geometric(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) resampled through one random affine map per image."""
    b, _, h, w = x.shape
    flip = _gate(x, p) * torch.randint(0, 2, (b,), device=x.device)
    maps = [_scaling(1 - 2 * flip, torch.ones_like(flip))]
    quarter = _gate(x, p) * torch.randint(0, 4, (b,), device=x.device)
    maps.append(_rotation(quarter * (math.pi / 2)))
    # integer translation: whole pixels, in grid units where the side spans 2
    shift = _gate(x, p)[:, None] * (torch.rand(b, 2, device=x.device) * 2 - 1) * INT_MAX
    whole = torch.stack([(shift[:, 0] * w).round() * 2 / w, (shift[:, 1] * h).round() * 2 / h], 1)
    maps.append(_translation(whole[:, 0], whole[:, 1]))
    iso = torch.exp2(_normal(x) * SCALE_STD * _gate(x, p))
    maps.append(_scaling(iso, iso))
    p_rot = 1 - torch.sqrt((1 - p).clamp(min=0))  # two rotations: P(either) = p
    maps.append(_rotation((torch.rand(b, device=x.device) * 2 - 1) * math.pi * _gate(x, p_rot)))
    aniso = torch.exp2(_normal(x) * SCALE_STD * _gate(x, p))
    maps.append(_scaling(aniso, 1 / aniso))
    maps.append(_rotation((torch.rand(b, device=x.device) * 2 - 1) * math.pi * _gate(x, p_rot)))
    frac = _normal(x, 2) * FRAC_STD * 2 * _gate(x, p)[:, None]
    maps.append(_translation(frac[:, 0], frac[:, 1]))
    m = maps[0]
    for nxt in maps[1:]:
        m = m @ nxt  # (B, 3, 3)
    grid = F.affine_grid(m[:, :2].to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _luma_matrices(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3): luma flip, hue rotation and saturation about the grey axis v = (1,1,1)/sqrt 3."""
    b = x.shape[0]
    v = torch.full((3,), 1 / math.sqrt(3), device=x.device)
    eye, vv = torch.eye(3, device=x.device), torch.outer(v, v)
    flip = (_gate(x, p) * torch.randint(0, 2, (b,), device=x.device))[:, None, None]
    m = eye - 2 * vv * flip
    theta = ((torch.rand(b, device=x.device) * 2 - 1) * math.pi * _gate(x, p))[:, None, None]
    ahead = eye.roll(1, dims=1)  # built by kernels: a host tensor would be copied mid-capture
    cross = (ahead.T - ahead) / math.sqrt(3)  # v x (.), as a matrix
    hue = eye * theta.cos() + cross * theta.sin() + vv * (1 - theta.cos())  # Rodrigues
    sat = torch.exp2(_normal(x) * SATURATION_STD * _gate(x, p))[:, None, None]
    return (vv + (eye - vv) * sat) @ hue @ m


def colour(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Brightness and contrast about mid grey; for 3 channels, also the luma matrices."""
    b = x.shape[0]
    bright = (_normal(x) * BRIGHTNESS_STD * _gate(x, p)).view(b, 1, 1, 1).to(x.dtype)
    contrast = torch.exp2(_normal(x) * CONTRAST_STD * _gate(x, p)).view(b, 1, 1, 1).to(x.dtype)
    x = (x + bright) * contrast
    if x.shape[1] == 3:  # a grey image has no hue or saturation
        x = torch.einsum("bij,bjhw->bihw", _luma_matrices(x, p).to(x.dtype), x)
    return x


def ada_augment(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return colour(geometric(x, p), p)
