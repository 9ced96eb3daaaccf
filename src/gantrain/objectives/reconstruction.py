"""The reconstruction (ELBO) term shared by every objective that trains an encoder."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from gantrain.kinds import NOT_A_FLAG, Flag, NonNegativeFloat, PositiveFloat
from gantrain.models.base import GenerativeModel
from gantrain.objectives import functional as F

Likelihood = Annotated[Literal["bernoulli", "gaussian"], NOT_A_FLAG]


class Reconstruction(nn.Module):
    """-log p(x | z) + beta * KL(q(z|x) || p(z)); the KL only for models with a posterior.

    gaussian: scale fixed at `scale`, or learned (a log-scale parameter trained with the model).
    """

    def __init__(
        self,
        likelihood: Likelihood = "bernoulli",
        beta: NonNegativeFloat = 1.0,
        scale: PositiveFloat = 0.1,
        learn_scale: Flag = False,
    ):
        super().__init__()
        self.likelihood = likelihood
        self.beta = beta
        log_scale = torch.tensor(float(scale)).log()
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def forward(self, model: GenerativeModel, x: torch.Tensor, labels: torch.Tensor | None = None):
        """x (B, C, H, W) [, labels (B,)] -> (loss scalar, codes (B, D), logs)."""
        z, stats = model.encode(x, labels)
        h = model.decode_raw(z, labels)
        if self.likelihood == "bernoulli":
            nll = F.bernoulli_nll(h, x)
        else:
            nll = F.gaussian_nll(h, x, self.log_scale)
        logs = {"nll": nll.mean().detach()}
        loss = nll.mean()
        if "posterior" in model.provides:
            kl = F.kl_std_normal(stats["mu"], stats["logvar"]).mean()
            loss = loss + self.beta * kl
            logs["kl"] = kl.detach()
            logs["elbo"] = -(nll.mean() + kl).detach()  # nats per image
        return loss, z, logs
