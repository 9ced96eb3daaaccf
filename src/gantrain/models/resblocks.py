"""Residual blocks of the SNGAN / BigGAN family (Miyato et al. 2018; Brock et al. 2019).

Pre-activation: each block is norm -> ReLU -> conv -> norm -> ReLU -> conv beside a shortcut.
The generator's block upsamples (nearest) before its first 3x3 conv; the critic's block
average-pools after its second. Shortcuts are the identity where nothing changes, else a learned
1x1 conv. Self-attention (SAGAN, Zhang et al. 2019) is one more block at a chosen side.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and shift are looked up by class (de Vries et al. 2017; used by
    SNGAN's and BigGAN's conditional generators). num_classes = 0: plain BatchNorm.
    (x (B, C, H, W), labels (B,) or None) -> (B, C, H, W)."""

    def __init__(self, features: int, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(features, affine=not num_classes)
        if num_classes:
            self.gain = nn.Embedding(num_classes, features)
            self.bias = nn.Embedding(num_classes, features)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if not self.num_classes:
            return h
        gain = self.gain(labels).to(h.dtype)[:, :, None, None]  # (B, C, 1, 1)
        return h * gain + self.bias(labels).to(h.dtype)[:, :, None, None]


class UpBlock(nn.Module):
    """(B, c_in, S, S) [, labels] -> (B, c_out, 2S, 2S): the generator's residual block."""

    def __init__(self, c_in: int, c_out: int, num_classes: int = 0):
        super().__init__()
        self.norm1 = ConditionalBatchNorm(c_in, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm2 = ConditionalBatchNorm(c_out, num_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)  # upsampling changes the shape: learned

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, labels)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    """(B, c_in, S, S) -> (B, c_out, S/2, S/2) (or S with down=False): the critic's residual
    block. first: SNGAN's optimised first block, which reads the image itself, so it starts
    with a conv rather than a ReLU and pools its shortcut's input before the 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, down: bool = True, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        learned = c_in != c_out or down
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if learned else nn.Identity()

    def _pool(self, h: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(h, 2) if self.down else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        if self.first:  # pool, then 1x1: the cheaper order on the image
            return h + self.shortcut(self._pool(x))
        return h + self._pool(self.shortcut(x))


class SelfAttention(nn.Module):
    """SAGAN's attention over all positions: x + gamma * attention(x), gamma starting at 0 so
    that the block begins as the identity. Keys and values are max-pooled 2x (as BigGAN) to
    quarter the cost. (B, C, H, W) -> (B, C, H, W); C >= 8."""

    def __init__(self, c: int):
        super().__init__()
        self.query = nn.Conv2d(c, c // 8, 1, bias=False)
        self.key = nn.Conv2d(c, c // 8, 1, bias=False)
        self.value = nn.Conv2d(c, c // 2, 1, bias=False)
        self.out = nn.Conv2d(c // 2, c, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        pooled = h % 2 == 0 and w % 2 == 0
        q = self.query(x).flatten(2)  # (B, C/8, HW)
        k, v = self.key(x), self.value(x)
        if pooled:
            k, v = F.max_pool2d(k, 2), F.max_pool2d(v, 2)
        k, v = k.flatten(2), v.flatten(2)  # (B, C/8, N), (B, C/2, N)
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # (B, HW, N)
        o = (v @ attn.transpose(1, 2)).view(b, c // 2, h, w)
        return x + self.gamma * self.out(o)


def init_residual(module: nn.Module) -> None:
    """Xavier-uniform weights, gain sqrt(2) for the 3x3 convs inside blocks and 1 elsewhere
    (the SNGAN reference code); zero biases. Embeddings (cBN, projection) keep their own."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            gain = math.sqrt(2) if m.weight.dim() == 4 and m.kernel_size == (3, 3) else 1.0
            nn.init.xavier_uniform_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
