"""The progress line's rounds/s: an exponential average over the last minute or so, so that a
slow stretch early in a long run (start-up, a busy machine) does not keep the ETA wrong for
the rest of it. Evaluation time is left out, as in the summary's rounds_per_s: one rate, of
training."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

HALF_LIFE_S = 30.0  # an interval's weight halves every HALF_LIFE_S seconds of later intervals


class RecentRate:
    def __init__(
        self,
        start_round: int,
        clock: Callable[[], float] = time.perf_counter,
        half_life_s: float = HALF_LIFE_S,
    ):
        self.clock = clock
        self.half_life_s = half_life_s
        self.round, self.t = start_round, clock()
        self.rate: float | None = None

    def update(self, rnd: int, paused_s: float = 0.0) -> float | None:
        """Training rounds/s as of round rnd: each interval since the last call weighs by its
        duration. paused_s: seconds spent on evaluations so far, not counted as training."""
        now = self.clock() - paused_s
        dt, done = now - self.t, rnd - self.round
        if dt <= 0 or done <= 0:
            return self.rate
        latest = done / dt
        keep = 0.0 if self.rate is None else math.exp(-math.log(2) * dt / self.half_life_s)
        self.rate = keep * (self.rate or 0.0) + (1 - keep) * latest
        self.round, self.t = rnd, now
        return self.rate

    def eta_s(self, rounds_left: int) -> float | None:
        return rounds_left / self.rate if self.rate else None
