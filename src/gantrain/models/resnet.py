"""Residual generator and critic (SNGAN, Miyato et al. 2018; BigGAN, Brock et al. 2019).

The generator follows the DCGAN side plan (blocks.plan): a linear layer maps z to a base x base
map (base 4..7: 4 for 32/64/128/256 px, 7 for 28 px), then one upsampling residual block per
doubling, then BatchNorm -> ReLU -> 3x3 conv to the image. Widths double towards the small end
from `width`, capped at `max_width` (width = max_width = 256 at 32 px is SNGAN's CIFAR-10 net).

The critic halves the side with residual blocks down to min_side (or the plan's base), adds
extra_blocks blocks at that side, then ReLU -> sum over positions -> linear: min_side=8,
extra_blocks=2 at width = max_width = 128 is SNGAN's CIFAR-10 critic; min_side=4, extra_blocks=1
is BigGAN's plan at 64-256 px. Spectral norm on every layer by default.

Conditional: class-conditional BatchNorm in the generator, and the projection critic (Miyato &
Koyama 2018): the logit gains <embed(y), features>.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from gantrain.errors import UserError
from gantrain.kinds import NOT_A_FLAG, Channels, Count, ImageSize, PositiveInt
from gantrain.models.anticollapse import PackedCritic
from gantrain.models.base import GenerativeModel, SampleNorm
from gantrain.models.blocks import plan, spectral_norm_all, widths
from gantrain.models.resblocks import (
    DownBlock,
    SelfAttention,
    UpBlock,
    init_residual,
)

# spectral: spectral normalisation on every layer (SNGAN, BigGAN); none: plain (R3GAN, with R1/R2)
ResNorm = Annotated[Literal["spectral", "none"], NOT_A_FLAG]


def _attention_at(side: int, width_at: dict[int, int], key: str) -> None:
    """Refuse an attention side the net never has, or one too narrow for the block.
    width_at: each side a block leaves -> its width."""
    if side and side not in width_at:
        raise UserError(
            f"{key}.attention={side} is not a side this net has: use one of "
            f"{', '.join(map(str, width_at))}, or 0 for no self-attention"
        )
    if side and width_at[side] < 8:
        raise UserError(
            f"{key}.attention={side} needs at least 8 channels at that side, not "
            f"{width_at[side]}: raise {key}.width"
        )


class ResUp(nn.Module):
    """z (B, latent) [, labels (B,)] -> pre-activation image (B, channels, S, S)."""

    def __init__(
        self, latent_dim, channels, image_size, width, max_width, num_classes=0, attention=0
    ):
        super().__init__()
        base, n = plan(image_size)
        w = widths(n + 1, width, max_width)[::-1]  # small end first: n + 1 widths for n blocks
        self.base, self.w0 = base, w[0]
        self.linear = nn.Linear(latent_dim, w[0] * base * base)
        sides = [base * 2 ** (i + 1) for i in range(n)]
        _attention_at(attention, dict(zip(sides, w[1:])), "model")
        self.blocks = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(zip(w[:-1], w[1:])):
            self.blocks.append(UpBlock(c_in, c_out, num_classes))
            if attention == sides[i]:
                self.blocks.append(SelfAttention(c_out))
        self.norm = nn.BatchNorm2d(w[-1])
        self.to_image = nn.Conv2d(w[-1], channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.w0, self.base, self.base)  # (B, w0, base, base)
        for block in self.blocks:
            h = block(h, labels) if isinstance(block, UpBlock) else block(h)
        return self.to_image(torch.relu(self.norm(h)))  # (B, C, S, S)


def down_sides(image_size: int, min_side: int) -> list[int]:
    """The sides the critic's downsampling blocks leave: halve while above min_side and even,
    never below the side plan's base."""
    base, _ = plan(image_size)
    sides, side = [], image_size
    while side > max(min_side, base) and side % 2 == 0:
        side //= 2
        sides.append(side)
    return sides


class ResDown(nn.Module):
    """image (B, channels, S, S) -> features (B, top width): the residual blocks, ReLU, sum over
    positions. Also the residual AE/VAE encoder (with a linear layer after it)."""

    def __init__(
        self,
        channels,
        image_size,
        width,
        max_width,
        min_side=8,
        extra_blocks=2,
        attention=0,
        key="objective.critic",
    ):
        super().__init__()
        sides = down_sides(image_size, min_side)
        w = widths(len(sides), width, max_width)
        _attention_at(attention, dict(zip(sides, w)), key)
        blocks: list[nn.Module] = []
        for i, c_out in enumerate(w):
            blocks.append(DownBlock(channels if i == 0 else w[i - 1], c_out, first=i == 0))
            if attention == sides[i]:
                blocks.append(SelfAttention(c_out))
        blocks += [DownBlock(w[-1], w[-1], down=False) for _ in range(extra_blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.features = w[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, features)


class ResEncoder(nn.Module):
    """image (B, channels, S, S) -> (B, out_features): the residual AE/VAE encoder, down to the
    side plan's base, one block there, then a linear layer."""

    def __init__(self, channels, image_size, width, max_width, out_features):
        super().__init__()
        self.body = ResDown(
            channels, image_size, width, max_width, min_side=4, extra_blocks=1, key="model"
        )
        self.linear = nn.Linear(self.body.features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.body(x))


class ResNetGAN(GenerativeModel):
    provides = frozenset({"generate"})

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        latent_dim: PositiveInt = 128,
        width: PositiveInt = 64,
        max_width: PositiveInt = 256,
        attention: Count = 0,
        sample_norm: SampleNorm = "batch",
        num_classes: Count = 0,
    ):
        super().__init__()
        self.latent_dim, self.sample_norm, self.num_classes = latent_dim, sample_norm, num_classes
        self.generator = ResUp(
            latent_dim, channels, image_size, width, max_width, num_classes, attention
        )
        init_residual(self)

    def decode_raw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels)


class ResNetCritic(PackedCritic):
    """image (B, C, H, W) [, labels (B,)] -> one logit per pack of images (B/pack,). pack > 1:
    PacGAN's packs of consecutive samples along the channels (anticollapse.py)."""

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        width: PositiveInt = 64,
        max_width: PositiveInt = 256,
        min_side: PositiveInt = 8,
        extra_blocks: Count = 2,
        attention: Count = 0,
        norm: ResNorm = "spectral",
        num_classes: Count = 0,
        packing: PositiveInt = 1,
    ):
        super().__init__()
        self.num_classes, self.packing = num_classes, packing
        self.body = ResDown(
            channels * packing, image_size, width, max_width, min_side, extra_blocks, attention
        )
        self.linear = nn.Linear(self.body.features, 1)
        if num_classes:
            self.projection = nn.Embedding(num_classes, self.body.features)
        init_residual(self)
        if num_classes:
            nn.init.xavier_uniform_(self.projection.weight)
        # on the meta device (memory_check's count) spectral norm adds no parameters, and its
        # power iterations there take seconds
        if norm == "spectral" and self.linear.weight.device.type != "meta":
            spectral_norm_all(self)
