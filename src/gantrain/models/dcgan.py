"""DCGAN (Radford et al. 2015): a generator; its discriminator is the adversarial critic.

Conditional (num_classes > 0, set from the data by conditional=true): the generator takes a
learned class vector beside z, and the discriminator scores (image, label) with a projection
(Miyato & Koyama 2018): the logit gains the inner product of a learned class embedding with the
features its last layer reads.
"""

from __future__ import annotations

import torch
from torch import nn

from gantrain.kinds import Channels, Count, ImageSize, PositiveInt
from gantrain.models.base import GenerativeModel, SampleNorm
from gantrain.models.blocks import CriticNorm, DownStack, UpStack, init_dcgan, spectral_norm_all
from gantrain.models.labels import LabelVector, label_dim


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
        num_classes: Count = 0,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.sample_norm = sample_norm
        self.num_classes = num_classes
        inputs = latent_dim + (label_dim(num_classes) if num_classes else 0)
        self.generator = UpStack(inputs, channels, image_size, width, max_width)
        if num_classes:
            self.label = LabelVector(num_classes)
        init_dcgan(self)

    def decode_raw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = self.label(z, labels)  # (B, latent + label_dim)
        return self.generator(z)


class Discriminator(DownStack):
    """image (B, C, H, W) [, labels (B,)] -> one real/fake logit per image (B,). norm: batch
    (DCGAN), layer, spectral (SNGAN-style: spectral normalisation on every layer, no BatchNorm)
    or none."""

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        width: PositiveInt = 64,
        max_width: PositiveInt = 512,
        norm: CriticNorm = "batch",
        num_classes: Count = 0,
    ):
        super().__init__(channels, image_size, width, max_width, out_features=1, norm=norm)
        self.num_classes = num_classes
        if num_classes:
            last = self.net[-1]  # the conv that reads the (B, w, base, base) features
            features = last.in_channels * last.kernel_size[0] * last.kernel_size[1]
            self.projection = nn.Embedding(num_classes, features)
        init_dcgan(self)
        if num_classes:  # small, like the weights of the layer it adds to
            nn.init.normal_(self.projection.weight, 0.0, 0.02)
        if norm == "spectral":
            spectral_norm_all(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if not self.num_classes:
            return super().forward(x).squeeze(1)
        *body, last = self.net
        h = x
        for layer in body:
            h = layer(h)  # ends (B, w, base, base): the features the last layer reads
        logit = last(h).flatten()  # (B,)
        return logit + (self.projection(labels).to(h.dtype) * h.flatten(1)).sum(1)
