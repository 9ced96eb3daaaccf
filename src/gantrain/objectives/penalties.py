"""Penalties on the critic's input gradient, added to its loss: the WGAN-GP gradient penalty on
interpolates between real and generated samples (Gulrajani et al. 2017), the zero-centred R1
penalty on real samples (Mescheder et al. 2018) and R2, the same on generated samples (with R1
and the relativistic loss, the R3GAN objective of Huang et al. 2024). R1 and R2 may be applied
lazily every N critic steps with their weight scaled by N (Karras et al. 2020, StyleGAN2).

A packing critic (PacGAN) scores packs of m consecutive samples: a pack is one input of the
critic, so an interpolate pack lies on the line between a real pack and a generated one (one eps
per pack), and each gradient norm is taken over the whole pack (the m samples' gradients
together, i.e. with respect to the packed input); the means run over packs. With m = 1 these
are the per-sample penalties."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from gantrain.kinds import NonNegativeFloat, PositiveInt
from gantrain.objectives import functional as F


def per_pack(grads: torch.Tensor, pack: int) -> torch.Tensor:
    """(B, ...) input gradients -> (B/pack, rest): one row per pack, its members' gradients."""
    return grads.reshape(grads.shape[0] // pack, -1)


class CriticPenalties(nn.Module):
    """The objective.penalties node: gradient (WGAN-GP's lambda), r1 and r2 (gamma); 0 turns
    any off. Computed in float32 with autocast off: the double backward of a penalty loses its
    small differences in half precision."""

    # buffers (register_buffer): tensors, not the Tensor | Module that nn.Module's getattr gives
    steps: torch.Tensor
    last_r1: torch.Tensor
    last_norm: torch.Tensor
    last_r2: torch.Tensor

    def __init__(
        self,
        gradient: NonNegativeFloat = 0.0,
        r1: NonNegativeFloat = 0.0,
        r1_every: PositiveInt = 1,
        r2: NonNegativeFloat = 0.0,
        r2_every: PositiveInt = 1,
    ) -> None:
        super().__init__()
        self.gp_weight, self.r1_weight, self.r1_every = gradient, r1, r1_every
        self.r2_weight, self.r2_every = r2, r2_every
        # critic steps taken, for the lazy R1 schedule; in the checkpoint, so resume is exact
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        # the last lazy R1 value and gradient norm, logged every round so that a log window's
        # mean counts each round
        self.register_buffer("last_r1", torch.zeros(()))
        self.register_buffer("last_norm", torch.zeros(()))
        self.register_buffer("last_r2", torch.zeros(()))
        self.steps_host = 0  # the same count on the host: reading the buffer would sync

    @property
    def on(self) -> bool:
        return self.gp_weight > 0 or self.r1_weight > 0 or self.r2_weight > 0

    @property
    def varies_by_round(self) -> bool:
        """Lazy R1 or R2 runs on some critic steps only: one captured round cannot stand for
        all."""
        return (self.r1_weight > 0 and self.r1_every > 1) or (
            self.r2_weight > 0 and self.r2_every > 1
        )

    def forward(
        self,
        critic: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
        pack: int = 1,
    ):
        """(penalty to add to the critic's loss, logs) for one critic step; critic: images
        (B, ...) -> logits (B/pack,), the conditional critic with its labels bound."""
        logs: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=real.device)
        no_autocast = (
            torch.autocast(real.device.type, enabled=False)
            if real.device.type in ("cuda", "cpu")
            else contextlib.nullcontext()
        )
        with no_autocast:
            real, fake = real.detach().float(), fake.detach().float()
            if self.gp_weight > 0:
                eps = torch.rand(real.shape[0] // pack, device=real.device)
                eps = eps.repeat_interleave(pack)  # the same for a pack's members
                grads = per_pack(F.input_gradients(critic, F.interpolates(real, fake, eps)), pack)
                gp = F.gradient_penalty(grads)
                total = total + self.gp_weight * gp
                logs["gradient_penalty"] = gp.detach()
                logs["critic_grad_norm"] = grads.detach().flatten(1).norm(dim=1).mean()
            if self.r1_weight > 0:
                if self.steps_host % self.r1_every == 0:
                    grads = per_pack(F.input_gradients(critic, real), pack)
                    r1 = F.r1_penalty(grads)
                    total = total + self.r1_weight * self.r1_every * r1
                    self.last_r1.copy_(r1.detach())
                    self.last_norm.copy_(grads.detach().flatten(1).norm(dim=1).mean())
                logs["r1_penalty"] = self.last_r1.clone()
                logs.setdefault("critic_grad_norm", self.last_norm.clone())
            if self.r2_weight > 0:
                if self.steps_host % self.r2_every == 0:
                    r2 = F.r1_penalty(per_pack(F.input_gradients(critic, fake), pack))
                    total = total + self.r2_weight * self.r2_every * r2
                    self.last_r2.copy_(r2.detach())
                logs["r2_penalty"] = self.last_r2.clone()
        self.steps_host += 1
        self.steps += 1
        return total, logs

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.steps_host = int(self.steps)
