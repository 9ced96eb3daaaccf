"""The log lines of a judge's training, which runs for minutes before a run's first round."""

from __future__ import annotations

import logging
import time

import torch

log = logging.getLogger("gantrain")


class Progress:
    """A log line at every tenth of the steps: the first training runs for minutes on a busy
    CPU before the first round, and must not look hung. The loss is the mean since the last
    line, summed on the device so that only a logged step waits for it."""

    def __init__(self, steps: int, clock=time.perf_counter):
        self.steps, self.clock = steps, clock
        self.every = max(1, steps // 10)
        self.t0 = clock()
        self.total: torch.Tensor | None = None
        self.count = 0

    def step(self, step: int, loss: torch.Tensor) -> None:
        total = loss if self.total is None else self.total + loss
        self.total = total
        self.count += 1
        if step % self.every and step != self.steps:
            return
        elapsed = self.clock() - self.t0
        left = elapsed / step * (self.steps - step)
        log.info(
            "classifier: step %d/%d, loss %.3f, %.0f s elapsed, ~%.0f s left",
            step,
            self.steps,
            float(total) / self.count,
            elapsed,
            left,
        )
        self.total, self.count = None, 0
