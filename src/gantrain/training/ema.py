"""Exponential moving average of a model's weights, used for pictures and evaluation."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from gantrain.models.base import GenerativeModel


class EMA:
    """decay: the average's decay once warm. warmup: the decay at update t is at most
    (1 + t) / (10 + t), as TensorFlow's ExponentialMovingAverage does with num_updates, so the
    first rounds follow the model instead of holding its random start (with a fixed 0.99,
    round 100 still carries 0.99**100 = 37% of the initial weights)."""

    def __init__(self, model: GenerativeModel, decay: float, warmup: bool = True):
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.updates = 0  # saved with the checkpoint: a resumed run continues the same decays
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        # float buffers (BatchNorm running statistics) are averaged like the weights: the raw
        # model's statistics do not match averaged weights, and sampling in eval mode reads them
        pairs: list[tuple[torch.Tensor, torch.Tensor]] = list(
            zip(self.model.parameters(), model.parameters())
        )
        self._copied: list[tuple[torch.Tensor, torch.Tensor]] = []
        for m_ema, m in zip(self.model.modules(), model.modules()):
            for (name, a), b in zip(m_ema.named_buffers(recurse=False), m.buffers(recurse=False)):
                if isinstance(m, _BatchNorm):  # other buffers (a fitted prior) are the EMA's own
                    averaged = name in ("running_mean", "running_var")
                    (pairs if averaged else self._copied).append((a, b))
        self._dst = [a for a, _ in pairs]
        self._src = [b for _, b in pairs]

    def current_decay(self) -> float:
        """The decay the next update applies."""
        if not self.warmup:
            return self.decay
        t = self.updates
        return min(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # ema <- decay * ema + (1 - decay) * current
        torch._foreach_lerp_(self._dst, self._src, 1.0 - self.current_decay())
        for a, b in self._copied:
            a.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict, updates: int) -> None:
        self.model.load_state_dict(state)
        self.updates = int(updates)
