"""DCGAN (Radford et al. 2015): a generator; its critic is the paper's discriminator.

Conditional (num_classes > 0, set from the data by conditional=true): the generator takes a
learned class vector beside z, and the critic scores (image, label) with a projection
(Miyato & Koyama 2018): the logit gains the inner product of a learned class embedding with the
features its last layer reads.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from gantrain.kinds import Channels, Count, Flag, ImageSize, PositiveInt
from gantrain.models.anticollapse import MinibatchStd, check_batch, pack
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


class DCGANCritic(DownStack):
    """image (B, C, H, W) [, labels (B,)] -> one real/fake logit per pack of images (B/pack,).
    norm: batch (DCGAN), layer, spectral (SNGAN-style: spectral normalisation on every layer, no
    BatchNorm) or none.

    Against mode collapse (anticollapse.py): pack > 1 judges `pack` consecutive samples at once
    (PacGAN), the first conv reading their pack * C channels; mbstd adds the minibatch standard
    deviation over groups of mbstd_group packs (ProGAN) as one more map before the last layer.
    A conditional critic's projection term of a pack is the sum of its members' terms: their
    summed class embeddings against the pack's features."""

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        width: PositiveInt = 64,
        max_width: PositiveInt = 512,
        norm: CriticNorm = "batch",
        num_classes: Count = 0,
        packing: PositiveInt = 1,
        mbstd: Flag = False,
        mbstd_group: Count | None = 4,
    ):
        super().__init__(
            channels * packing, image_size, width, max_width, out_features=1, norm=norm
        )
        self.num_classes, self.packing = num_classes, packing
        self.mbstd, self.mbstd_group = mbstd, mbstd_group
        if mbstd:  # the last conv reads one more map: the std over the group
            *body, out = self.net
            last = cast(nn.Conv2d, out)
            wider = nn.Conv2d(
                last.in_channels + 1, last.out_channels, cast(tuple[int, int], last.kernel_size)
            )
            self.net = nn.Sequential(*body, MinibatchStd(mbstd_group), wider)
        if num_classes:
            last = cast(
                nn.Conv2d, self.net[-1]
            )  # the conv that reads the (B/pack, w, base, base) features
            features = last.in_channels * last.kernel_size[0] * last.kernel_size[1]
            self.projection = nn.Embedding(num_classes, features)
        init_dcgan(self)
        if num_classes:  # small, like the weights of the layer it adds to
            nn.init.normal_(self.projection.weight, 0.0, 0.02)
        if norm == "spectral":
            spectral_norm_all(self)

    def check_batch(self, batch_size: int) -> None:
        """Refuse a batch size the packs or the std groups do not divide (a UserError)."""
        check_batch(batch_size, self.packing, self.mbstd, self.mbstd_group)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = pack(x, self.packing)  # (B/pack, pack*C, H, W)
        if not self.num_classes:
            return super().forward(x).squeeze(1)
        *body, last = self.net
        h = x
        for layer in body:
            h = layer(h)  # ends (B/pack, w, base, base): the features the last layer reads
        logit = last(h).flatten()  # (B/pack,)
        embedded = self.projection(labels).to(h.dtype)  # (B, features)
        embedded = embedded.view(h.shape[0], self.packing, -1).sum(1)  # (B/pack, features)
        return logit + (embedded * h.flatten(1)).sum(1)
