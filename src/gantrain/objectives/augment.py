"""Augmentation of every image an image critic sees, real and generated, in the critic and the
generator steps alike, so that it cannot leak into what the generator learns (Zhao et al. 2020;
Karras et al. 2020). Differentiable, on the images' device, graph-safe.

none: the images as they are. diffaug: DiffAugment's policies with probability 1 (diffaug.py).
ada: ADA's transforms with probability p (ada.py), p moved every `interval` rounds from the
overfitting heuristic r_t = E[sign(D(x_real))] towards `target`, by sign(r_t - target) times the
real images seen since the last move over ada_kimg * 1000: so p can climb from 0 to 1 in
ada_kimg thousand images. p lives in a buffer, saved with the checkpoint.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import torch
import torch.distributed as dist
from annotated_types import Ge, Le
from torch import nn

from gantrain.errors import UserError
from gantrain.kinds import NOT_A_FLAG, Node, OpenUnit, PositiveFloat, Says
from gantrain.objectives.ada import ada_augment
from gantrain.objectives.diffaug import diff_augment

log = logging.getLogger("gantrain")

AugmentKind = Annotated[Literal["none", "diffaug", "ada"], NOT_A_FLAG]
Strength = Annotated[float, Ge(0), Le(1), Says("a strength from 0 (off) to 1")]


def policy_keys(
    color: Strength | None = None,
    translation: Strength | None = None,
    cutout: Strength | None = None,
) -> dict[str, float | None]:
    """objective.augment.policy: DiffAugment's strengths; null takes the default for the
    images' channels (GREY_POLICY, COLOUR_POLICY)."""
    return {"color": color, "translation": translation, "cutout": cutout}


# grey: translation alone, 24-36% below no augmentation at 100 MNIST digits (benchmarks/RESULTS.md),
# where translation with a half-side cutout had scored worse than none; colour: the paper's policy
GREY_POLICY = {"color": 0.0, "translation": 0.125, "cutout": 0.0}
COLOUR_POLICY = {"color": 1.0, "translation": 0.125, "cutout": 0.5}
ADA_INTERVAL = 4  # rounds between moves of p, as in ADA


CODE_CRITIC = (
    "model=ae objective=adversarial has a critic on codes (objective.space=code), not images"
)


def no_image_critic(augment: str, why: str) -> UserError:
    return UserError(
        f"objective.augment.kind={augment} augments the images an image critic sees, and {why}: "
        "use objective.augment.kind=none, or a pair with an image critic (objective=adversarial "
        "with model=dcgan or model=vae)"
    )


class Augment(nn.Module):
    """The objective.augment node: kind, diffaug's policy, ADA's target and speed."""

    interval = ADA_INTERVAL
    # buffers (register_buffer): tensors, not the Tensor | Module that nn.Module's getattr gives
    p: torch.Tensor
    sign_sum: torch.Tensor
    seen: torch.Tensor
    rounds: torch.Tensor

    def __init__(
        self,
        kind: AugmentKind = "none",
        policy: Node | None = None,
        ada_target: OpenUnit = 0.6,
        ada_kimg: PositiveFloat = 100.0,
    ) -> None:
        super().__init__()
        self.kind, self.given = kind, dict(policy or {})
        self.target, self.kimg = ada_target, ada_kimg
        self.policy: dict[str, float] | None = None  # settled by the first images' channels
        self.register_buffer("p", torch.zeros(()))
        # sums since p last moved, and rounds taken: device tensors, so no round reads the host
        self.register_buffer("sign_sum", torch.zeros(()))
        self.register_buffer("seen", torch.zeros(()))
        self.register_buffer("rounds", torch.zeros((), dtype=torch.long))
        if kind != "diffaug" and any(v is not None for v in self.given.values()):
            log.info("objective.augment.kind=%s: objective.augment.policy is not used", kind)

    def _settle(self, channels: int) -> dict[str, float]:
        base = GREY_POLICY if channels == 1 else COLOUR_POLICY
        policy = {
            k: (self.given[k] if self.given.get(k) is not None else v) for k, v in base.items()
        }
        log.info(
            "objective.augment.kind=diffaug: %s", ", ".join(f"{k} {v:g}" for k, v in policy.items())
        )
        return policy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) -> the same shape, augmented."""
        if self.kind == "diffaug":
            if self.policy is None:
                self.policy = self._settle(x.shape[1])
            return diff_augment(x, self.policy)
        if self.kind == "ada":
            return ada_augment(x, self.p)
        return x

    @torch.no_grad()
    def observe(self, real_logits: torch.Tensor) -> None:
        """Count the critic's signs on (augmented) real images of one critic step."""
        if self.kind == "ada":
            self.sign_sum += real_logits.detach().float().sign().sum()
            self.seen += real_logits.shape[0]

    @torch.no_grad()
    def end_round(self) -> dict[str, torch.Tensor]:
        """Move p on every interval-th round (without a branch: the same kernels each round);
        returns p to log."""
        if self.kind != "ada":
            return {}
        self.rounds += 1
        due = (self.rounds % self.interval == 0).float()
        sign_sum, seen = self._global(self.sign_sum, self.seen)
        r_t = sign_sum / seen.clamp(min=1)
        step = torch.sign(r_t - self.target) * seen / (self.kimg * 1000)
        self.p.add_(due * step).clamp_(0.0, 1.0)
        self.sign_sum.mul_(1 - due)
        self.seen.mul_(1 - due)
        return {"ada_p": self.p.clone()}

    @staticmethod
    def _global(sign_sum: torch.Tensor, seen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The counts over every process's real images, so that p moves alike on every rank
        (one small all-reduce a round, which keeps the kernels the same each round)."""
        if not (dist.is_initialized() and dist.get_world_size() > 1):
            return sign_sum, seen
        both = torch.stack([sign_sum, seen])
        dist.all_reduce(both)
        return both[0], both[1]
