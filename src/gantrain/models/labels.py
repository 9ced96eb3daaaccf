"""How a class label enters a net: a learned vector beside the noise or code (conditional
generators and decoders; Mirza & Osindero 2014), or a learned map beside the image's channels
(a CVAE's encoder; Sohn et al. 2015)."""

from __future__ import annotations

import torch
from torch import nn

# the label vector's width: one dimension per class (a learned one-hot) up to this many
MAX_LABEL_DIM = 64


def label_dim(num_classes: int) -> int:
    return min(num_classes, MAX_LABEL_DIM)


class LabelVector(nn.Module):
    """(z (B, D), labels (B,)) -> (B, D + label_dim): the code with its class's vector."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, label_dim(num_classes))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, self.embed(labels).to(z.dtype)], 1)


class LabelMap(nn.Module):
    """(x (B, C, S, S), labels (B,)) -> (B, C + 1, S, S): the image with a learned map per class
    as one more channel."""

    def __init__(self, num_classes: int, image_size: int):
        super().__init__()
        self.size = image_size
        self.embed = nn.Embedding(num_classes, image_size * image_size)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        planes = self.embed(labels).view(-1, 1, self.size, self.size).to(x.dtype)
        return torch.cat([x, planes], 1)


def projected_logit(
    logit: torch.Tensor,
    h: torch.Tensor,
    projection: nn.Embedding | None,
    labels: torch.Tensor | None,
    pack: int,
) -> torch.Tensor:
    """A critic's logit (B/pack,) plus the projection discriminator's term (Miyato & Koyama
    2018): the inner product of the features h (B/pack, F) with the summed class embeddings of
    each pack's members; the logit alone without a projection (an unconditional critic)."""
    if projection is None:
        return logit
    embedded = projection(labels).to(h.dtype)  # (B, F)
    embedded = embedded.view(h.shape[0], pack, -1).sum(1)  # a pack's summed classes
    return logit + (embedded * h).sum(1)
