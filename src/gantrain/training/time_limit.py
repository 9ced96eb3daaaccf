"""trainer.time_limit: stop cleanly at the first round boundary past a duration of training,
for a cluster's wall-time and for comparisons at equal time."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist

from gantrain.kinds import duration_seconds
from gantrain.training import rng

# the loop reads the time through this name, so that a test can set it round by round
clock = time.monotonic


class Deadline:
    """limit: trainer.time_limit as configured (None: no limit), counted from start()."""

    def __init__(self, limit: int | float | str | None, device: torch.device):
        self.limit = limit
        self.seconds = None if limit is None else duration_seconds(limit)
        self.device = device
        self.end: float | None = None

    @property
    def words(self) -> str:
        """The limit as a user gave it: 20m, 1h30m; a plain number in seconds: 45s."""
        return words(self.limit) if self.limit is not None else "none"

    def start(self) -> None:
        if self.seconds is not None:
            self.end = clock() + self.seconds

    def passed(self) -> bool:
        """Whether the limit has passed; asked once per round. One process: a clock read, no
        device sync. Data-parallel ranks decide together (one tiny all-reduce, which waits for
        the round's work), so that they all stop after the same round."""
        if self.end is None:
            return False
        past = clock() >= self.end
        if dist.is_initialized() and dist.get_world_size() > 1:
            flag = torch.tensor([float(past)], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            past = bool(flag.item())
        return past


def words(limit: int | float | str) -> str:
    return limit if isinstance(limit, str) else f"{limit:g}s"


def stopped_line(summary: dict, run_dir: Path) -> str | None:
    """The last line of a run stopped by its time limit: where it stopped and how to go on;
    None for a run that was not."""
    if summary.get("status") != "time_limit":
        return None
    return (
        f"time limit {words(summary['time_limit'])} reached: stopped after round {summary['rounds']} "
        f"of {summary['target_rounds']}; continue with: gantrain resume={run_dir} (the same "
        "limit again, or add trainer.time_limit=... for another, =null for none)"
    )


@contextmanager
def rng_untouched(active: bool = True):
    """With active, the random generators end as they began: work that the schedule did not
    ask for (a time limit's extra grid and evaluation) must not change what training draws."""
    states = rng.get_states() if active else None
    try:
        yield
    finally:
        if states is not None:
            rng.set_states(states)
