"""Maximum likelihood: the autoencoder's reconstruction NLL, or the VAE's negative ELBO."""

from __future__ import annotations

import torch

from gantrain.data.labelled import split
from gantrain.kinds import Node
from gantrain.models.base import GenerativeModel
from gantrain.objectives.base import NextBatch
from gantrain.objectives.optimizers import OptimizerFactory
from gantrain.objectives.single import SingleOptimizerObjective


class MaximumLikelihood(SingleOptimizerObjective):
    requires = frozenset({"encode"})

    def __init__(
        self,
        optimizer: OptimizerFactory,
        reconstruction: Node | None = None,
    ) -> None:
        super().__init__(optimizer, reconstruction)

    def refusal(self, model_name: str, objective_name: str, missing: list[str]) -> str:
        residual = model_name == "resnet"  # its blocks do have an autoencoder that fits
        return (
            f"model={model_name} objective={objective_name} cannot train: {model_name} is an "
            "implicit generator with no likelihood to maximise (it cannot encode an image); "
            "use objective=adversarial or objective=mmd"
            + (", or the residual VAE: model=vae model.backbone=resnet" if residual else "")
        )

    def run_round(self, model: GenerativeModel, next_batch: NextBatch) -> dict[str, torch.Tensor]:
        x, labels = split(next_batch())
        with self.accel.autocast():
            loss, _, logs = self.recon(model, x, labels)
        self.accel.step(loss, self.opt)
        logs["loss"] = loss.detach()
        return logs
