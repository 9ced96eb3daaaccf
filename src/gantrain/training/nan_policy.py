"""What a NaN or infinite loss does: stop with the last good checkpoint, or roll back to it."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.kinds import Choice

log = logging.getLogger("gantrain")

NanPolicy = Choice("stop", "rollback")
MAX_ROLLBACKS = 3


class Diverged(UserError):
    """A loss became NaN or infinite."""


class NanGuard:
    def __init__(self, policy: str, last: Path):
        self.policy, self.last = policy, last
        self.rollbacks = 0

    def finite(self, logs: dict[str, torch.Tensor], rnd: int) -> bool:
        """True when every logged value is finite; False asks for a rollback; else Diverged."""
        if bool(torch.isfinite(torch.stack([v.float() for v in logs.values()])).all()):
            return True
        bad = [k for k, v in logs.items() if not math.isfinite(float(v))]
        where = f"{', '.join(bad)} became {float(logs[bad[0]])} at round {rnd}"
        if self.policy == "rollback" and self.last.is_file() and self.rollbacks < MAX_ROLLBACKS:
            log.warning("%s: reloading %s and halving the learning rates", where, self.last)
            self.rollbacks += 1
            return False
        raise Diverged(
            f"{where}; the last good checkpoint is kept in {self.last.parent}. Lower the "
            "learning rate (objective.optimizer.lr), set trainer.nan_policy=rollback, "
            "or change the seed"
        )

    def lr_factor(self) -> float:
        """Each rollback halves the learning rates once more."""
        return 0.5**self.rollbacks
