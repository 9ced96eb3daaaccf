"""What a checkpoint holds and how a run continues from one: the training state as one object."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gantrain.hardware.graphs import set_capturable
from gantrain.models.base import GenerativeModel
from gantrain.objectives.base import Objective
from gantrain.training import checkpoint, rng
from gantrain.training.ema import EMA


class TrainState:
    """The model, its objective, the batch stream, the EMA, the fixed noise bank, and the
    running sums of logged values (so a resumed run logs the same means)."""

    def __init__(
        self,
        model: GenerativeModel,
        objective: Objective,
        batches,
        ema: EMA | None,
        noise: torch.Tensor,
        config: dict,
        device: torch.device,
    ):
        self.model, self.objective, self.batches = model, objective, batches
        self.ema, self.noise, self.config, self.device = ema, noise, config, device
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.best_fid = math.inf  # of the in-training evaluations; checkpoints/best.pt holds it

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        for k, v in logs.items():  # running sums stay on the device: no sync per round
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.count += 1

    def means(self) -> dict[str, float]:
        """The logged values' means since the last call (which starts new sums)."""
        out = {k: float(v) / self.count for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return out

    def payload(self, rnd: int) -> dict:
        payload = {
            "round": rnd,
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict(),
            "data": self.batches.state_dict(),
            "rng": rng.get_states(),
            "noise": self.noise.cpu(),
            "config": self.config,
            "log_sums": dict(self.sums),
            "log_count": self.count,
            "best_fid": self.best_fid,
        }
        if self.ema is not None:
            payload["ema"] = self.ema.state_dict()
            payload["ema_updates"] = self.ema.updates
        classes = getattr(self.batches, "classes", None)
        if classes:  # a conditional run's class names, in label order
            payload["classes"] = list(classes)
        return payload

    def save(self, rnd: int, folder: Path, keep: bool, keep_last: int) -> None:
        """checkpoints/last.pt; with keep, also round_<rnd>.pt, pruned to the newest keep_last."""
        payload = self.payload(rnd)
        checkpoint.save(payload, folder / "last.pt")
        if keep and keep_last:
            checkpoint.save(payload, folder / f"round_{rnd:06d}.pt")
            for old in sorted(folder.glob("round_*.pt"))[:-keep_last]:
                old.unlink()

    def keep_best(self, rnd: int, fid: float, folder: Path) -> bool:
        """checkpoints/best.pt when fid is the lowest so far; whether it was."""
        if not fid < self.best_fid:  # NaN never counts as better
            return False
        self.best_fid = fid
        checkpoint.save({**self.payload(rnd), "fid": fid}, folder / "best.pt")
        return True

    def restore(self, state: dict) -> int:
        """Load a checkpoint's payload; returns its round."""
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        set_capturable(self.objective, False)  # a graph sets it again when it captures
        self.batches.load_state_dict(state["data"])
        if self.ema is not None:
            # a checkpoint from before the count was saved: one update per round, all warm
            updates = state.get("ema_updates", state["round"])
            self.ema.load_state_dict(state.get("ema", self.model.state_dict()), updates)
        rng.set_states(state["rng"])
        self.sums = {k: v.to(self.device) for k, v in state.get("log_sums", {}).items()}
        self.count = int(state.get("log_count", 0))
        self.best_fid = float(state.get("best_fid", math.inf))
        return int(state["round"])
