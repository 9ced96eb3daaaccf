"""R3GAN's modern ConvNet (Huang et al. 2024, "The GAN is dead; long live the GAN!"), generator
and critic, without normalisation layers.

A stage per side of the plan (blocks.plan: base x base, then one stage per doubling). Each stage
holds `blocks` residual blocks, each an inverted bottleneck of three convs: 1x1 (C -> expansion*C),
3x3 grouped (groups of `group_size` channels), 1x1 back to C, with a learned bias and leaky ReLU
(0.2) before the second and third. Between stages a transition layer: 1x1 conv where the width
changes, and bilinear resampling (the [1, 2, 1] filter of the paper's resamplers).

Fix-up initialisation (the paper's section 3 and its code): He-normal weights, the residual
branch's first two convs scaled by L^(-1/(2m-2)) = L^(-1/4) (L the net's residual blocks, m = 3
convs per branch) and its last conv zero, so that every block starts as the identity and the
unnormalised net's scores stay small.

The generator starts from a learned base x base map scaled per channel by a linear function of
z (input_layer=basis, the paper's generative basis) or from a full linear map of z onto the base
map (input_layer=dense, DCGAN's first layer without its BatchNorm), and ends with a 1x1 conv to
the image. The basis lets z set only one number per channel; on Stacked MNIST that ties the three
channels' digits together, and the dense layer keeps them independent (benchmarks/RESULTS.md); the critic starts with a
1x1 conv from the image and ends with a base x base depthwise conv, then a linear logit.
Widths double towards the small end from `width`, capped at max_width; width = max_width = 768,
group_size 16, expansion 2, blocks 2 at 32 px is the paper's CIFAR-10 net.

Conditional: the generator takes a learned class vector beside z (labels.py), the critic the
projection term <embed(y), features> (Miyato & Koyama 2018), as model=dcgan and model=resnet.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from gantrain.errors import UserError
from gantrain.kinds import NOT_A_FLAG, Channels, Count, ImageSize, PositiveInt
from gantrain.models.anticollapse import PackedCritic
from gantrain.models.base import GenerativeModel
from gantrain.models.blocks import plan, widths
from gantrain.models.labels import LabelVector, label_dim

SLOPE = 0.2
GAIN = math.sqrt(2 / (1 + SLOPE**2))  # leaky ReLU's gain: keeps activations' variance
# the 2x downsampling filter: [1, 2, 1] convolved with [1, 1], normalised (the bilinear one)
TAPS = (1 / 8, 3 / 8, 3 / 8, 1 / 8)
InputLayer = Annotated[Literal["basis", "dense"], NOT_A_FLAG]


def he_init(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> None:
    """N(0, gain^2 / fan_in) weights; gain 0 zeroes them."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))


def conv(
    c_in: int, c_out: int, k: int = 1, groups: int = 1, gain: float = 1.0, same: bool = True
) -> nn.Conv2d:
    """A bias-free conv, He-initialised; same: padded to keep the side, else unpadded."""
    layer = nn.Conv2d(c_in, c_out, k, 1, (k - 1) // 2 if same else 0, groups=groups, bias=False)
    he_init(layer, gain)
    return layer


class BiasedAct(nn.Module):
    """x + bias -> leaky ReLU(0.2): the only biases in the net. (B, C, H, W) -> same."""

    def __init__(self, c: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.to(x.dtype)[:, None, None], SLOPE)


class Bottleneck(nn.Module):
    """x + branch(x), (B, C, S, S) -> same; total: the net's residual blocks (fix-up's L)."""

    def __init__(self, c: int, expansion: int, group_size: int, total: int):
        super().__init__()
        wide, gain = c * expansion, GAIN * total ** (-1 / 4)  # L^(-1/(2m-2)), m = 3
        self.expand = conv(c, wide, 1, gain=gain)
        self.act1 = BiasedAct(wide)
        self.mix = conv(wide, wide, 3, groups=wide // group_size, gain=gain)
        self.act2 = BiasedAct(wide)
        self.project = conv(wide, c, 1, gain=0.0)  # zero: the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.mix(self.act1(self.expand(x)))))


def upsample(x: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) -> (B, C, 2S, 2S), bilinear."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class Downsample(nn.Module):
    """(B, C, S, S) -> (B, C, S/2, S/2): the bilinear (triangle) filter, stride 2. A depthwise
    conv rather than interpolate(antialias=True), whose double backward R1 and R2 need is
    missing in torch; the filter is a buffer, so it lives on the net's device (no host copy
    in a CUDA graph) and stays out of the checkpoint."""

    # buffers (register_buffer): tensors, not the Tensor | Module that nn.Module's getattr gives
    kernel: torch.Tensor

    def __init__(self):
        super().__init__()
        taps = torch.tensor(TAPS)
        self.register_buffer("kernel", (taps[:, None] * taps[None, :])[None, None], False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        k = self.kernel.to(x.dtype).expand(c, 1, 4, 4)
        return F.conv2d(x, k, stride=2, padding=1, groups=c)


def check_groups(w: list[int], expansion: int, group_size: int, key: str) -> None:
    """Refuse a group size that does not divide a stage's expanded width."""
    for c in w:
        if (c * expansion) % group_size:
            raise UserError(
                f"{key}.group_size={group_size} does not divide the expanded width "
                f"{c * expansion} ({key}.width x 2^k x expansion {expansion}): use a divisor "
                f"such as {math.gcd(c * expansion, group_size)}, or a width that it divides"
            )


def stage_widths(image_size: int, width: int, max_width: int) -> tuple[int, list[int]]:
    """(base, widths from the base x base stage out to the image's side)."""
    base, n = plan(image_size)
    return base, widths(n + 1, width, max_width)[::-1]


def stages(w: list[int], blocks: int, expansion: int, group_size: int) -> nn.ModuleList:
    total = blocks * len(w)
    return nn.ModuleList(
        nn.Sequential(*[Bottleneck(c, expansion, group_size, total) for _ in range(blocks)])
        for c in w
    )


class R3Up(nn.Module):
    """z (B, inputs) -> pre-activation image (B, channels, S, S)."""

    def __init__(
        self,
        inputs,
        channels,
        image_size,
        width,
        max_width,
        blocks,
        expansion,
        group_size,
        input_layer="basis",
    ):
        super().__init__()
        self.base, w = stage_widths(image_size, width, max_width)
        check_groups(w, expansion, group_size, "model")
        self.start_width = w[0]
        if input_layer == "basis":
            self.basis = nn.Parameter(torch.randn(w[0], self.base, self.base))
            self.scale = nn.Linear(inputs, w[0], bias=False)
            he_init(self.scale)
        else:  # unit variance at the base map, as the basis's randn x He-scaled z gives
            self.dense = nn.Linear(inputs, w[0] * self.base * self.base, bias=False)
            he_init(self.dense)
        self.stages = stages(w, blocks, expansion, group_size)
        self.widen = nn.ModuleList(
            conv(a, b) if a != b else nn.Identity() for a, b in zip(w[:-1], w[1:])
        )
        self.to_image = conv(w[-1], channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "dense"):
            h = self.dense(z).view(-1, self.start_width, self.base, self.base)
        else:
            h = self.basis[None] * self.scale(z)[:, :, None, None]  # (B, w0, base, base)
        h = self.stages[0](h)
        for widen, stage in zip(self.widen, self.stages[1:]):
            h = stage(upsample(widen(h)))  # (B, w, 2S, 2S)
        return self.to_image(h)  # (B, C, S, S)


class R3Down(nn.Module):
    """image (B, channels, S, S) -> features (B, w at the base side)."""

    def __init__(
        self,
        channels,
        image_size,
        width,
        max_width,
        blocks,
        expansion,
        group_size,
        key="objective.critic",
    ):
        super().__init__()
        base, w = stage_widths(image_size, width, max_width)
        w = w[::-1]  # image side first
        check_groups(w, expansion, group_size, key)
        self.from_image = conv(channels, w[0])
        self.stages = stages(w, blocks, expansion, group_size)
        self.narrow = nn.ModuleList(
            conv(a, b) if a != b else nn.Identity() for a, b in zip(w[:-1], w[1:])
        )
        # the discriminative basis: one base x base filter per channel
        self.basis = conv(w[-1], w[-1], base, groups=w[-1], same=False)  # (B, w, 1, 1)
        self.features = w[-1]
        self.downsample = Downsample()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.from_image(x)
        for stage, narrow in zip(self.stages[:-1], self.narrow):
            h = narrow(self.downsample(stage(h)))  # (B, w, S/2, S/2)
        return self.basis(self.stages[-1](h)).flatten(1)  # (B, features)


class R3GAN(GenerativeModel):
    provides = frozenset({"generate"})

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        latent_dim: PositiveInt = 64,
        width: PositiveInt = 16,
        max_width: PositiveInt = 128,
        blocks: PositiveInt = 1,
        expansion: PositiveInt = 2,
        group_size: PositiveInt = 16,
        num_classes: Count = 0,
        input_layer: InputLayer = "basis",
    ):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        inputs = latent_dim + (label_dim(num_classes) if num_classes else 0)
        self.generator = R3Up(
            inputs,
            channels,
            image_size,
            width,
            max_width,
            blocks,
            expansion,
            group_size,
            input_layer,
        )
        if num_classes:
            self.label = LabelVector(num_classes)

    def decode_raw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            z = self.label(z, labels)  # (B, latent + label_dim)
        return self.generator(z)


class R3Critic(PackedCritic):
    """image (B, C, H, W) [, labels (B,)] -> one logit per pack of images (B/pack,). pack > 1:
    PacGAN's packs of consecutive samples along the channels (anticollapse.py)."""

    def __init__(
        self,
        image_size: ImageSize,
        channels: Channels,
        width: PositiveInt = 16,
        max_width: PositiveInt = 128,
        blocks: PositiveInt = 1,
        expansion: PositiveInt = 2,
        group_size: PositiveInt = 16,
        num_classes: Count = 0,
        packing: PositiveInt = 1,
    ):
        super().__init__()
        self.num_classes, self.packing = num_classes, packing
        self.body = R3Down(
            channels * packing, image_size, width, max_width, blocks, expansion, group_size
        )
        self.linear = nn.Linear(self.body.features, 1, bias=False)
        he_init(self.linear)
        if num_classes:  # scores of the order of the unconditional logit's
            self.projection = nn.Embedding(num_classes, self.body.features)
            nn.init.normal_(self.projection.weight, 0.0, 1 / math.sqrt(self.body.features))
