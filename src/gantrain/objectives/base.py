"""What the trainer knows of an objective: bind it to a model, then step it once per round."""

from __future__ import annotations

from collections.abc import Callable

import torch

from gantrain.errors import UserError
from gantrain.hardware.accel import Accelerator
from gantrain.models.base import GenerativeModel

# hyper-parameters a loaded optimizer keeps from its checkpoint: its saved state has their layout
SAVED_LAYOUT = ("amsgrad",)

# () -> real images (B, C, H, W) in [-1, 1], or (images, labels (B,)) in a conditional run
NextBatch = Callable[[], torch.Tensor | tuple[torch.Tensor, torch.Tensor]]


class Objective:
    requires: frozenset[str] = frozenset()

    def check_fits(self, model: GenerativeModel, model_name: str, objective_name: str) -> None:
        missing = self.requires - model.provides
        if missing:
            raise UserError(self.refusal(model_name, objective_name, sorted(missing)))

    def refusal(self, model_name: str, objective_name: str, missing: list[str]) -> str:
        return (
            f"model={model_name} objective={objective_name} do not fit: the objective needs "
            f"{', '.join(missing)}, which model={model_name} lacks"
        )

    def check_batch(self, batch_size: int) -> None:
        """Refuse (UserError) a batch size this objective's nets cannot take; any by default."""

    def check_accumulates(self, passes: int, micro: int) -> None:
        """Refuse (UserError) gradient accumulation over `passes` micro-batches of `micro`
        images where this objective cannot take it; any objective with one optimizer can."""

    def bind(self, model: GenerativeModel, accel: Accelerator | None = None) -> None:
        """Create optimizers (and critics) for this model; called once before training.

        accel: mixed precision, memory format and multi-process gradient averaging; none on
        the CPU by default.
        """
        raise NotImplementedError

    def _accel(self, model: GenerativeModel, accel: Accelerator | None) -> Accelerator:
        self.accel = accel or Accelerator(next(model.parameters()).device)
        return self.accel

    def run_round(self, model: GenerativeModel, next_batch: NextBatch) -> dict[str, torch.Tensor]:
        """One round; returns detached scalar tensors to log."""
        raise NotImplementedError

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [v for v in vars(self).values() if isinstance(v, torch.optim.Optimizer)]

    def scale_lr(self, factor: float) -> None:
        """Multiply every learning rate (after a rollback from a NaN)."""
        for opt in self.optimizers():
            for group in opt.param_groups:
                group["lr"] *= factor

    def state_dict(self) -> dict:
        raise NotImplementedError

    @staticmethod
    def load_optimizer(opt: torch.optim.Optimizer, saved: dict) -> None:
        """The saved moments and step counts, with the hyper-parameters the optimizer was built
        with (the config's): torch's load_state_dict would bring back the saved lr, betas,
        weight decay..., which a run resumed with a changed config (resume_force) must not keep."""
        configured = {k: v for k, v in opt.defaults.items() if k not in SAVED_LAYOUT}
        opt.load_state_dict(saved)
        for group in opt.param_groups:
            group.update(configured)

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError
