"""DCGAN (Radford et al. 2015): a generator; its discriminator is the adversarial critic."""

from __future__ import annotations

import torch

from gantrain.kinds import Channels, ImageSize, PositiveInt
from gantrain.models.base import GenerativeModel, SampleNorm
from gantrain.models.blocks import CriticNorm, DownStack, UpStack, init_dcgan, spectral_norm_all


class DCGAN(GenerativeModel):
    provides = frozenset({"generate"})

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        latent_dim: PositiveInt = 100,
        width: PositiveInt = 128,
        max_width: PositiveInt = 512,
        sample_norm: SampleNorm = "batch",
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.sample_norm = sample_norm
        self.generator = UpStack(latent_dim, channels, image_size, width, max_width)
        init_dcgan(self)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


class Discriminator(DownStack):
    """image (B, C, H, W) -> one real/fake logit per image (B,). norm: batch (DCGAN), spectral
    (SNGAN-style: spectral normalisation on every layer, no BatchNorm) or none."""

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        width: PositiveInt = 64,
        max_width: PositiveInt = 512,
        norm: CriticNorm = "batch",
    ):
        super().__init__(channels, image_size, width, max_width, out_features=1, norm=norm)
        init_dcgan(self)
        if norm == "spectral":
            spectral_norm_all(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(1)
