"""Burn-in schedules (R3GAN, Huang et al. 2024): hyper-parameters that move from a start value to
an end value along half a cosine over the first `rounds` rounds, then hold the end value.

Each value is a function of the round alone, set before the round's step, so a resumed run takes
the same values as an uninterrupted one with nothing saved. What each one sets:
  lr            every optimizer's learning rate (times a rollback's scale)
  beta2         every Adam optimizer's second beta
  gamma         the R1 and R2 weights (objective.penalties.r1, .r2, those that are on)
  ema_kimg      the generator average's half-life in thousands of images: the decay per round
                is 0.5 ** (images per round / (1000 * ema_kimg)); 0 follows the model
  augment       ADA's probability p (objective.augment.kind=ada), held by the schedule instead of
                ADA's feedback
A quantity whose start is null is left as the config sets it.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gantrain.errors import UserError
from gantrain.kinds import Beta, NonNegativeFloat, PositiveFloat, PositiveInt
from gantrain.training.ema import EMA

QUANTITIES = ("lr", "beta2", "gamma", "ema_kimg", "augment")


def cosine(start: float, end: float, rnd: int, rounds: int) -> float:
    """start at round 0, end from round `rounds` on, half a cosine between."""
    t = min(max(rnd, 0), rounds) / rounds
    return start + (end - start) * (1 - math.cos(math.pi * t)) / 2


class BurnIn:
    """The schedule group's keys (conf/schedule/): each quantity's start and end, and the
    burn-in's length in rounds."""

    def __init__(
        self,
        rounds: PositiveInt = 10000,
        lr_start: PositiveFloat | None = None,
        lr_end: PositiveFloat | None = None,
        beta2_start: Beta | None = None,
        beta2_end: Beta | None = None,
        gamma_start: NonNegativeFloat | None = None,
        gamma_end: NonNegativeFloat | None = None,
        ema_kimg_start: NonNegativeFloat | None = None,
        ema_kimg_end: NonNegativeFloat | None = None,
        augment_start: Beta | None = None,
        augment_end: Beta | None = None,
    ):
        self.rounds = rounds
        given = locals()
        self.ends: dict[str, tuple[float, float]] = {}
        for name in QUANTITIES:
            start, end = given[f"{name}_start"], given[f"{name}_end"]
            if (start is None) != (end is None):
                missing = f"{name}_end" if end is None else f"{name}_start"
                raise UserError(
                    f"schedule.{missing} is null while its pair is set: give both "
                    f"schedule.{name}_start and schedule.{name}_end, or neither"
                )
            if start is not None:
                self.ends[name] = (float(start), float(end))

    @property
    def sets_ema(self) -> bool:
        return "ema_kimg" in self.ends

    def value(self, name: str, rnd: int) -> float:
        """The quantity's value for the round after `rnd` rounds (round 0: the start)."""
        start, end = self.ends[name]
        return cosine(start, end, rnd, self.rounds)

    def bind(self, objective, ema: EMA | None, images_per_round: int, device: torch.device) -> None:
        """Check that the objective has what the schedule sets (one line where not)."""
        self.ema, self.images, self.device = ema, images_per_round, device
        self.optimizers = objective.optimizers()
        penalties = getattr(objective, "penalties", None)
        if "gamma" in self.ends and not (
            penalties and (penalties.r1_weight or penalties.r2_weight)
        ):
            raise UserError(
                "schedule.gamma_start sets the R1 and R2 weights that are on, and "
                "objective.penalties.r1 and objective.penalties.r2 are both 0: set "
                "objective.penalties.r1 (and objective.penalties.r2) > 0, or "
                "schedule.gamma_start=null schedule.gamma_end=null"
            )
        if "beta2" in self.ends and not all("betas" in o.defaults for o in self.optimizers):
            raise UserError(
                "schedule.beta2_start sets Adam's second beta, and this objective's "
                "optimizer has no betas: use torch.optim.Adam, or "
                "schedule.beta2_start=null schedule.beta2_end=null"
            )
        augment = getattr(objective, "augment", None)
        if "augment" in self.ends:
            if augment is None or augment.kind != "ada":
                raise UserError(
                    "schedule.augment_start sets ADA's probability p: use "
                    "objective.augment.kind=ada, or schedule.augment_start=null "
                    "schedule.augment_end=null"
                )
            augment.kimg = math.inf  # ADA's own feedback moves p by nothing: the schedule holds it
        self.penalties: Any = penalties  # CriticPenalties where gamma is scheduled
        self.augment: Any = augment  # Augment (ADA) where its p is
        # the configured R1/R2 weights say which of the two the schedule drives
        self.r1_on = bool(penalties and penalties.r1_weight)
        self.r2_on = bool(penalties and penalties.r2_weight)

    def apply(self, rnd: int, lr_scale: float = 1.0) -> dict[str, torch.Tensor]:
        """Set every scheduled value for the round after `rnd` rounds; returns them to log
        (on the device, beside the step's own logs)."""
        v = {name: self.value(name, rnd) for name in self.ends}
        for opt in self.optimizers:
            for group in opt.param_groups:
                if "lr" in v:
                    group["lr"] = v["lr"] * lr_scale
                if "beta2" in v:
                    group["betas"] = (group["betas"][0], v["beta2"])
        if "gamma" in v:
            if self.r1_on:
                self.penalties.r1_weight = v["gamma"]
            if self.r2_on:
                self.penalties.r2_weight = v["gamma"]
        if "ema_kimg" in v and self.ema is not None:
            half_life = v["ema_kimg"] * 1000
            self.ema.decay = 0.5 ** (self.images / half_life) if half_life > 0 else 0.0
        if "augment" in v:
            self.augment.p.fill_(v["augment"])
        return {f"schedule_{k}": torch.tensor(x, device=self.device) for k, x in v.items()}
