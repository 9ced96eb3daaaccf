"""Adversarial training (Goodfellow et al. 2014, Algorithm 1) with a critic in data or code space.

data space: the critic tells real images from decode(z), z ~ p(z)          (DCGAN, VAE-GAN)
code space: the critic tells prior draws z ~ p(z) from codes encode(x)      (adversarial AE)
Models that encode also get the reconstruction term when recon_weight > 0, and any loss may
take the critic penalties (gradient penalty, R1) of penalties.py, and an image critic may see
every image augmented (augment.py).

Conditional runs: generated images take the real batch's labels, so fake labels follow the data's
class frequencies; a conditional image critic scores (image, label) pairs (the projection
discriminator), while a critic on codes stays unconditional (the label goes to the decoder).
"""

from __future__ import annotations

import functools
import logging
from typing import Annotated, Literal

import torch
from torch import nn

from gantrain.data.labelled import split
from gantrain.errors import UserError
from gantrain.hardware.accel import Accelerator
from gantrain.kinds import NOT_A_FLAG, Flag, Node, NonNegativeFloat, PositiveInt
from gantrain.models.base import GenerativeModel
from gantrain.objectives.augment import CODE_CRITIC, Augment, no_image_critic
from gantrain.objectives.base import NextBatch, Objective
from gantrain.objectives.losses import AdversarialLoss
from gantrain.objectives.optimizers import OptimizerFactory, float_betas
from gantrain.objectives.penalties import CriticPenalties
from gantrain.objectives.reconstruction import Reconstruction

log = logging.getLogger("gantrain")

Space = Annotated[Literal["data", "code"], NOT_A_FLAG]


class Adversarial(Objective):
    """loss, penalties, augment and reconstruction: the objective.* nodes of those names, each
    checked against the class it builds (AdversarialLoss, CriticPenalties, Augment,
    Reconstruction)."""

    def __init__(
        self,
        critic: nn.Module,
        optimizer: OptimizerFactory,
        critic_optimizer: OptimizerFactory,
        critic_steps: PositiveInt = 1,
        space: Space = "data",
        weight: NonNegativeFloat = 1.0,
        recon_weight: NonNegativeFloat = 0.0,
        reuse_fake: Flag = False,
        loss: Node | None = None,
        penalties: Node | None = None,
        augment: Node | None = None,
        reconstruction: Node | None = None,
    ) -> None:
        self.critic = critic
        self.packing = getattr(critic, "packing", 1)  # PacGAN: a critic scoring B/packing packs
        self.make_optimizer = float_betas(optimizer)
        self.make_critic_optimizer = float_betas(critic_optimizer)
        self.critic_steps = critic_steps
        self.space = space
        self.weight, self.recon_weight = weight, recon_weight
        self.reuse_fake = reuse_fake and space == "data"
        self.loss = AdversarialLoss(**(loss or {}))
        self.penalties = CriticPenalties(**(penalties or {}))
        self._refuse_batch_norm_gradient_penalty(critic)
        self.augment = Augment(**(augment or {}))
        if self.augment.kind != "none" and space == "code":
            raise no_image_critic(self.augment.kind, CODE_CRITIC)
        self.graph_safe = not self.penalties.varies_by_round
        self.recon = Reconstruction(**(reconstruction or {}))
        needs = {"generate"}
        if space == "code" or recon_weight > 0:
            needs.add("encode")
        self.requires = frozenset(needs)

    def _refuse_batch_norm_gradient_penalty(self, critic: nn.Module) -> None:
        lam = self.penalties.gp_weight
        if lam > 0 and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules()
        ):
            raise UserError(
                f"objective.penalties.gradient={lam:g} needs a critic that scores each "
                "sample on its own, and BatchNorm (objective.critic.norm=batch) mixes the samples "
                "of a batch, so the per-sample gradient is not what the penalty constrains: use "
                "objective.critic.norm=layer"
            )

    def check_batch(self, batch_size: int) -> None:
        check = getattr(self.critic, "check_batch", None)
        if check is not None:
            check(batch_size)

    def check_accumulates(self, passes: int, micro: int) -> None:
        if passes > 1:  # its generator step must see the critic its critic steps moved
            raise UserError(
                f"trainer.batch_per_process={micro} would split each process's share of "
                f"trainer.batch_size into {passes} micro-batches (gradient accumulation), which "
                "objective=adversarial does not do: raise trainer.batch_per_process to "
                f"{micro * passes} or lower trainer.batch_size"
            )

    def bind(self, model: GenerativeModel, accel: Accelerator | None = None) -> None:
        accel = self._accel(model, accel)
        accel.prepare(self.critic)
        accel.prepare(self.recon)
        accel.prepare(self.penalties)
        self.augment.to(accel.device)
        self.opt = self.make_optimizer(list(model.parameters()) + list(self.recon.parameters()))
        self.critic_opt = self.make_critic_optimizer(self.critic.parameters())

    def _pair(self, model: GenerativeModel, x: torch.Tensor, labels: torch.Tensor | None):
        """(real, fake) for the critic; in code space the prior is 'real'."""
        if self.space == "data":
            return x, model.decode(model.prior(x.shape[0]), labels)
        return model.prior(x.shape[0]), model.encode(x, labels)[0]

    def _score(self, inputs: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The critic's logits (B,); with the labels where it is a conditional one."""
        if getattr(self.critic, "num_classes", 0):
            return self.critic(inputs, labels)
        return self.critic(inputs)

    def run_round(self, model: GenerativeModel, next_batch: NextBatch) -> dict[str, torch.Tensor]:
        for i in range(self.critic_steps):  # k critic steps, each on a fresh minibatch
            x, labels = split(next_batch())
            # reuse_fake keeps the last critic step's G(z) graph for the generator step
            keep = self.reuse_fake and i == self.critic_steps - 1
            with self.accel.autocast():
                with torch.set_grad_enabled(keep):
                    real, fake = self._pair(model, x, labels)
                # the critic sees every image augmented, real and fake alike
                real, fake_seen = self.augment(real), self.augment(fake.detach())
                real_logits = self._score(real, labels)
                fake_logits = self._score(fake_seen, labels)
                loss_d = self.loss.critic(real_logits.float(), fake_logits.float())
            # ADA's overfitting signal: which side of the decision boundary real images fall on
            # (a packing critic's score counts for each image of its pack)
            # (the relativistic critic's scale floats: what counts is real above its paired fake)
            seen = real_logits - (fake_logits.detach() if self.loss.kind == "relativistic" else 0.0)
            seen = seen.repeat_interleave(self.packing) if self.packing > 1 else seen
            self.augment.observe(seen - self.loss.boundary)
            penalty_logs = {}
            if self.penalties.on:
                score = functools.partial(self._score, labels=labels)
                penalty, penalty_logs = self.penalties(score, real, fake_seen, self.packing)
                loss_d = loss_d + penalty
            self.accel.step(loss_d, self.critic_opt)

        # one generator (encoder) step on fresh noise, or on the kept G(z) with reuse_fake;
        # code space reuses the last real batch. The critic's weights get no gradient here:
        # backward only needs its input gradient, and the next critic step starts from zero.
        self.critic.requires_grad_(False)
        try:
            loss_g, adv, logs = self._generator_loss(
                model, x, labels, fake if self.reuse_fake else None
            )
        finally:
            self.critic.requires_grad_(True)
        self.accel.step(loss_g, self.opt)
        logs.update(penalty_logs, loss_d=loss_d.detach(), loss_g=adv.detach())
        logs.update(self.augment.end_round())
        real_out, fake_out = real_logits.detach().float(), fake_logits.detach().float()
        if (
            self.loss.kind == "wasserstein"
        ):  # the critic's estimate of the distance, not a probability
            logs["wasserstein"] = real_out.mean() - fake_out.mean()
        else:
            logs.update(
                d_real=torch.sigmoid(real_out).mean(), d_fake=torch.sigmoid(fake_out).mean()
            )
        return logs

    def _generator_loss(self, model: GenerativeModel, x: torch.Tensor, labels, fake):
        """(total generator loss, its adversarial term, reconstruction logs)."""
        logs: dict[str, torch.Tensor] = {}
        with self.accel.autocast():
            loss_g = torch.zeros((), device=x.device)
            if self.recon_weight > 0:
                rec, codes, logs = self.recon(model, x, labels)
                loss_g = loss_g + self.recon_weight * rec
            if self.space == "data":
                if fake is None:
                    fake = model.decode(model.prior(x.shape[0]), labels)
            else:
                fake = codes if self.recon_weight > 0 else model.encode(x, labels)[0]
            seen = self.augment(fake) if self.space == "data" else fake
            real_out = None
            if self.loss.kind == "relativistic":  # the current critic's scores of the real side
                with torch.no_grad():
                    real = self.augment(x) if self.space == "data" else model.prior(x.shape[0])
                    real_out = self._score(real, labels).float()
            adv = self.loss.generator_side(self._score(seen, labels).float(), real_out)
            loss_g = loss_g + self.weight * adv
        return loss_g, adv, logs

    def state_dict(self) -> dict:
        return {
            "critic": self.critic.state_dict(),
            "recon": self.recon.state_dict(),
            "penalties": self.penalties.state_dict(),
            "augment": self.augment.state_dict(),
            "optimizer": self.opt.state_dict(),
            "critic_optimizer": self.critic_opt.state_dict(),
            "accel": self.accel.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.critic.load_state_dict(state["critic"])
        self.recon.load_state_dict(state["recon"])
        if "penalties" in state:  # checkpoints from before the penalties have none
            self.penalties.load_state_dict(state["penalties"])
        if "augment" in state:  # nor those from before augmentation
            self.augment.load_state_dict(state["augment"])
        self.load_optimizer(self.opt, state["optimizer"])
        self.load_optimizer(self.critic_opt, state["critic_optimizer"])
        self.accel.load_state_dict(state.get("accel", {}))
