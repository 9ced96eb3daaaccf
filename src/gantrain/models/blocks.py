"""The conv stacks every model shares: an upsampling decoder and a downsampling encoder.

Depth follows the image: a side of `base * 2**n` with base in 4..7 (28 = 7*4, 32 = 4*8,
64 = 4*16) gets n stride-2 layers. Widths double towards the small end, capped at max_width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import torch
from torch import nn

from gantrain.kinds import NOT_A_FLAG, side_plan


def plan(image_size: int) -> tuple[int, int]:
    """(base, n) with image_size = base * 2**n, 4 <= base <= 7 and n >= 1."""
    found = side_plan(int(image_size))
    if found is None:  # the schema's ImageSize refuses such sides before anything is built
        raise ValueError(f"image_size={image_size} is not 4..7 times a power of two")
    return found


def widths(n: int, width: int, max_width: int) -> list[int]:
    """Feature widths from the full-resolution end inwards: width, 2*width, ... (n entries)."""
    return [min(width * 2**i, max_width) for i in range(n)]


def init_dcgan(module: nn.Module) -> None:
    """N(0, 0.02) conv weights, N(1, 0.02) norm scales (Radford et al. 2015)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class UpStack(nn.Module):
    """z (B, latent) -> pre-activation image (B, channels, S, S); callers apply tanh."""

    def __init__(self, latent_dim: int, channels: int, image_size: int, width: int, max_width: int):
        super().__init__()
        base, n = plan(image_size)
        w = widths(n, width, max_width)[::-1]  # small end first
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, w[0], base, 1, 0, bias=False),  # (B, w0, base, base)
            nn.BatchNorm2d(w[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(w[:-1], w[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),  # doubles the side
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers.append(nn.ConvTranspose2d(w[-1], channels, 4, 2, 1))  # (B, C, S, S)
        self.net = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))


# batch: BatchNorm (DCGAN); layer: GroupNorm(1), per sample, for gradient penalties;
# spectral: spectral normalisation on every layer (SNGAN); none
CriticNorm = Annotated[Literal["batch", "layer", "spectral", "none"], NOT_A_FLAG]


def spectral_norm_all(module: nn.Module) -> None:
    """Spectral normalisation (Miyato et al. 2018) on every conv and linear weight; call it
    after the weights are initialised, since it re-parametrises them."""
    for m in list(module.modules()):
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.Embedding):
            nn.utils.parametrizations.spectral_norm(m)


class DownStack(nn.Module):
    """image (B, channels, S, S) -> features (B, out_features); no norm on the first layer.
    norm="batch" puts BatchNorm after the inner convs, "layer" GroupNorm with one group (each
    sample normalised over its own channels and pixels); "spectral" and "none" leave it out (the
    caller applies spectral_norm_all once the weights are initialised)."""

    def __init__(
        self,
        channels: int,
        image_size: int,
        width: int,
        max_width: int,
        out_features: int,
        norm: str = "batch",
    ):
        super().__init__()
        base, n = plan(image_size)
        w = widths(n, width, max_width)
        norms: dict[str, Callable[[int], nn.Module]] = {
            "batch": nn.BatchNorm2d,
            "layer": lambda c: nn.GroupNorm(1, c),
        }
        layers: list[nn.Module] = [nn.Conv2d(channels, w[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(w[:-1], w[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm not in norms),  # halves the side
                *([norms[norm](c_out)] if norm in norms else []),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(w[-1], out_features, base, 1, 0))  # (B, out, 1, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)  # (B, out_features)
