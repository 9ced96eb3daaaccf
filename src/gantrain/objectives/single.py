"""Objectives that train the model with one optimizer and, where it encodes, a reconstruction term."""

from __future__ import annotations

from gantrain.hardware.accel import Accelerator
from gantrain.kinds import Node
from gantrain.models.base import GenerativeModel
from gantrain.objectives.base import Objective
from gantrain.objectives.optimizers import OptimizerFactory, float_betas
from gantrain.objectives.reconstruction import Reconstruction


class SingleOptimizerObjective(Objective):
    def __init__(self, optimizer: OptimizerFactory, reconstruction: Node | None = None) -> None:
        # the objective.reconstruction node's keys are Reconstruction's parameters
        self.make_optimizer = float_betas(optimizer)
        self.recon = Reconstruction(**(reconstruction or {}))

    def bind(self, model: GenerativeModel, accel: Accelerator | None = None) -> None:
        self._accel(model, accel).prepare(self.recon)
        # a learned Gaussian scale trains with the model
        self.opt = self.make_optimizer(list(model.parameters()) + list(self.recon.parameters()))

    def state_dict(self) -> dict:
        return {
            "recon": self.recon.state_dict(),
            "optimizer": self.opt.state_dict(),
            "accel": self.accel.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.recon.load_state_dict(state["recon"])
        self.load_optimizer(self.opt, state["optimizer"])
        self.accel.load_state_dict(state.get("accel", {}))
