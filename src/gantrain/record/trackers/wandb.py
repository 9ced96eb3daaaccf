"""Weights & Biases: files in RUN/wandb; online when the user is logged in (or as WANDB_MODE
says), else offline, to `wandb sync` later. The run's id is kept in RUN/trackers.json so that
a resumed run continues the same W&B run."""

from __future__ import annotations

import netrc
import os
import sys
from pathlib import Path
from typing import Annotated, Literal

from gantrain.errors import UserError
from gantrain.kinds import NOT_A_FLAG, Text
from gantrain.record.trackers.base import Tracker, as_uint8, figure_rgb, keep, kept, require


def logged_in() -> bool:
    """An API key where `wandb login` leaves it (the environment or ~/.netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        found = netrc.netrc(os.environ.get("NETRC")).authenticators("api.wandb.ai")
    except (OSError, netrc.NetrcParseError):
        return False
    return found is not None


def resolve_mode(mode: str) -> str | None:
    """auto: WANDB_MODE when set (None lets wandb read it), online when logged in, else offline."""
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):
        return None
    return "online" if logged_in() else "offline"


# auto: as WANDB_MODE says when set, online when logged in, else offline
WandbMode = Annotated[Literal["auto", "online", "offline", "disabled"], NOT_A_FLAG]


class WandbTracker(Tracker):
    """Weights & Biases, files in RUN/wandb: the project, the entity (null: the user's), the
    mode, and the run's name (null: RUN's last two parts, <date>/<time>)."""

    def __init__(
        self,
        run_dir: Path,
        start_round: int,
        project: Text = "gantrain",
        entity: Text | None = None,
        mode: WandbMode = "auto",
        run_name: Text | None = None,
    ):
        self.wandb = require("wandb")
        before = kept(run_dir, "wandb").get("run_id")
        try:
            self.run = self.wandb.init(
                project=project,
                entity=entity,
                name=run_name or f"{run_dir.parent.name}/{run_dir.name}",
                dir=str(run_dir),
                mode=resolve_mode(mode),
                id=before,
                resume="allow",  # the kept id: the same run continues; none: a new one
            )
        except Exception as err:  # wandb's own errors (no network, a bad entity) have no base
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise UserError(
                f"logger=wandb could not start a run ({first}); logger.wandb.mode=offline "
                "records without a network, to `wandb sync` later"
            ) from None
        self.fresh = before != self.run.id
        self.run_dir = run_dir
        # W&B keeps a run's steps increasing and drops a lower one: rounds a killed run logged
        # after its checkpoint are left out on resume, offline too (where the resumed run's own
        # step starts at 0), by the last step this run directory recorded
        logged = -1 if self.fresh else int(kept(run_dir, "wandb").get("step", -1))
        continued = -1 if self.fresh else int(getattr(self.run, "step", 0) or 0) - 1
        self.logged_before = max(logged, continued)
        self.high = self.logged_before
        keep(run_dir, "wandb", {"run_id": self.run.id, "step": self.high})

    def _log(self, values: dict, rnd: int) -> None:
        self.run.log(values, step=rnd)
        if rnd > self.high:  # the record moves once a round, not once a call
            self.high = rnd
            keep(self.run_dir, "wandb", {"run_id": self.run.id, "step": rnd})

    def config(self, config: dict, text: str) -> None:
        self.run.config.update(config, allow_val_change=True)

    def scalars(self, values: dict[str, float], rnd: int) -> None:
        if rnd > self.logged_before:
            self._log(dict(values), rnd)

    def text(self, tag: str, text: str, rnd: int) -> None:
        self.run.summary[tag] = text

    def figure(self, tag: str, figure, rnd: int) -> None:
        if rnd > self.logged_before:
            self._log({tag: self.wandb.Image(figure_rgb(figure))}, rnd)

    def image(self, tag: str, grid, rnd: int) -> None:
        if rnd > self.logged_before:
            self._log({tag: self.wandb.Image(as_uint8(grid))}, rnd)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        self.run.config.update({"hparams": hparams}, allow_val_change=True)
        self.run.summary.update(metrics)

    def close(self) -> None:
        self.run.finish(exit_code=0 if sys.exc_info()[0] is None else 1)
