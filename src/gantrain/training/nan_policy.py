"""What a diverging run does: a NaN or infinite loss stops it at the last finite checkpoint, or
rolls back to that checkpoint; losses that explode while staying finite mark it diverged."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Annotated, Literal

import torch

from gantrain.errors import UserError
from gantrain.kinds import NOT_A_FLAG
from gantrain.training import checkpoint
from gantrain.training.state import nonfinite_parts

log = logging.getLogger("gantrain")

NanPolicy = Annotated[Literal["stop", "rollback"], NOT_A_FLAG]
MAX_ROLLBACKS = 3
# a logged loss (a mean over trainer.log_every rounds) whose size is above EXPLODED in
# EXPLODED_WINDOWS logged windows in a row has diverged even though it is finite: healthy
# losses are per-image sums of order 1e3 at most, while a run whose weights run away grows
# them by orders of magnitude per window
EXPLODED = 1e6
EXPLODED_WINDOWS = 3
WATCHED = ("loss", "wasserstein")  # logged names that start so are losses (or a distance)

Kept = tuple[Path, int] | None  # the checkpoint holding the newest finite state, and its round


class Diverged(UserError):
    """A loss became NaN or infinite."""


class NanGuard:
    def __init__(self, policy: str):
        self.policy = policy
        self.rollbacks = 0
        self.reason = ""  # what the last rollback answers: "loss_g became nan at round 17"
        self.streak: list[tuple[int, str, float]] = []  # the exploded windows in a row

    def finite(self, logs: dict[str, torch.Tensor], rnd: int, kept: Kept) -> bool:
        """True when every logged value is finite; False asks for a rollback to kept; else
        Diverged, naming what kept holds."""
        if bool(torch.isfinite(torch.stack([v.float() for v in logs.values()])).all()):
            return True
        bad = [k for k, v in logs.items() if not math.isfinite(float(v))]
        where = f"{', '.join(bad)} became {float(logs[bad[0]])} at round {rnd}"
        if self.policy == "rollback" and kept is not None and self.rollbacks < MAX_ROLLBACKS:
            self.rollbacks += 1
            self.reason = where
            return False
        raise Diverged(f"{where}; {self._advice(kept)}")

    def _advice(self, kept: Kept) -> str:
        retry = "lower the learning rate (objective.optimizer.lr) or change the seed"
        if kept is None:
            what = "no finite training state was saved before it, so there is nothing to "
            what += "reload" if self.policy == "rollback" else "continue from"
            return f"{what}; {retry}"
        path, rnd = kept
        held = f"{path} holds the last finite state (round {rnd})"
        if self.policy == "rollback":
            return (
                f"{held}, and {MAX_ROLLBACKS} rollbacks to it, each halving the learning rates "
                f"once more, diverged again; {retry}"
            )
        run = path.parent.parent
        return (
            f"{held}; continue from it at a lower learning rate (gantrain resume={run} "
            "resume_force=true objective.optimizer.lr=...), set trainer.nan_policy=rollback, "
            "or change the seed"
        )

    def exploded(self, means: dict[str, float], rnd: int) -> dict | None:
        """The divergence record once the logged losses stayed above EXPLODED for
        EXPLODED_WINDOWS logged windows in a row: the first such window's round, term, value."""
        big = [(abs(v), k, v) for k, v in means.items() if k.startswith(WATCHED)]
        big = [b for b in big if b[0] > EXPLODED]
        if not big:
            self.streak = []
            return None
        if len(self.streak) < EXPLODED_WINDOWS:
            _, term, value = max(big)
            self.streak.append((rnd, term, value))
        if len(self.streak) < EXPLODED_WINDOWS:
            return None
        first, term, value = self.streak[0]
        return {"round": first, "term": term, "value": value}


def exploded_warning(diverged: dict, done: str = "") -> str:
    """The warning a run whose losses exploded (or whose state became non-finite) ends with;
    done: what the run did, said before the advice."""
    if diverged["term"] == "state":
        what = f"its weights, EMA or optimizer state became non-finite at round {diverged['round']}"
    else:
        what = (
            f"{diverged['term']} reached {diverged['value']:.4g} at round {diverged['round']} and "
            f"stayed above {EXPLODED:g} for {EXPLODED_WINDOWS} logged windows"
        )
    return (
        f"diverged: {what}; {done + '; ' if done else ''}lower the learning rate "
        "(objective.optimizer.lr) or change the seed"
    )


def diverged_line(summary: dict, done: str) -> str | None:
    """The final line of a run whose summary says it diverged; None for one that did not."""
    if not summary.get("diverged"):
        return None
    record = {k: summary.get(f"diverged_{k}") for k in ("round", "term", "value")}
    return exploded_warning(record, done)


def finite_payload(path: Path, round_: int) -> dict:
    """The checkpoint a rollback starts from; Diverged where it is not finite (gantrain saves
    only finite states; an older gantrain's may not be)."""
    payload = checkpoint.load(path)
    if nonfinite_parts(payload):
        raise Diverged(
            f"{path} (round {round_}) holds a NaN or an infinity, so a rollback "
            "cannot start from it; lower the learning rate (objective.optimizer.lr) "
            "or change the seed"
        )
    return payload
