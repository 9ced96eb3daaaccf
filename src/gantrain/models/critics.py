"""Critics that are not image discriminators: an MLP on latent codes (adversarial autoencoder)."""

from __future__ import annotations

import torch
from torch import nn

from gantrain.kinds import Count, PositiveInt


class CodeCritic(nn.Module):
    """codes (B, latent) -> one prior-vs-encoded logit per code (B,)."""

    def __init__(self, latent_dim: PositiveInt, hidden: PositiveInt = 512, layers: Count = 2):
        super().__init__()
        dims = [latent_dim] + [hidden] * layers
        net: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            net += [nn.Linear(d_in, d_out), nn.LeakyReLU(0.2, True)]
        net.append(nn.Linear(dims[-1], 1))
        self.net = nn.Sequential(*net)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)
