"""What a checkpoint holds and how a run continues from one: the training state as one object."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
import torch.distributed as dist

from gantrain.hardware import distributed
from gantrain.hardware.graphs import set_capturable
from gantrain.models.base import GenerativeModel
from gantrain.objectives.base import Objective
from gantrain.training import checkpoint, rng
from gantrain.training.ema import EMA

log = logging.getLogger("gantrain")
# the payload's parts whose floating-point tensors must all be finite before it is saved
CHECKED = {
    "model": "weights",
    "ema": "EMA weights",
    "objective": "optimizer/critic state",
    "log_sums": "logged sums",
}


def _floats(node, out: list[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(node, torch.Tensor):
        if node.is_floating_point():
            out.append(node)
    elif isinstance(node, dict):
        for v in node.values():
            _floats(v, out)
    elif isinstance(node, list | tuple):
        for v in node:
            _floats(v, out)
    return out


def _extremes(t: torch.Tensor) -> torch.Tensor:
    """(min, max) of t as float32 (2,); zeros for an empty tensor, which has neither."""
    if not t.numel():
        return torch.zeros(2, device=t.device)
    return torch.stack(torch.aminmax(t.detach())).float()


def nonfinite_parts(payload: dict) -> list[str]:
    """The names of the payload's parts holding a NaN or an infinity (CHECKED's words).

    Each tensor's smallest and largest value (one pass, no temporary as large as the tensor;
    a NaN anywhere makes both NaN), computed where the tensor lives, then one copy of the flags
    to the host per device: a checkpoint costs a single synchronisation with the accelerator."""
    parts = [(name, _floats(payload.get(key), [])) for key, name in CHECKED.items()]
    by_device: dict[torch.device, list[torch.Tensor]] = {}
    for _, tensors in parts:
        for t in tensors:
            by_device.setdefault(t.device, []).append(_extremes(t))
    flags = {d: iter(torch.stack(f).isfinite().all(1).tolist()) for d, f in by_device.items()}
    return [name for name, tensors in parts if not all([next(flags[t.device]) for t in tensors])]


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
        self.kept: tuple[Path, int] | None = None  # the newest finite checkpoint and its round
        self.lr_scale = 1.0  # of the configured learning rates: each rollback halves it
        self.diverged: dict | None = None  # {"round", "term", "value"} once the run diverged

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        for k, v in logs.items():  # running sums stay on the device: no sync per round
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.count += 1

    def means(self) -> dict[str, float]:
        """The logged values' means since the last call (which starts new sums); with several
        processes, over all of them (each saw an equal share of every batch), so that the log
        reads as one process's would."""
        sums = self.sums
        if sums and dist.is_initialized() and dist.get_world_size() > 1:
            keys = sorted(sums)  # the same on every rank: they run the same objective
            both = torch.stack([sums[k].float() for k in keys]) / dist.get_world_size()
            dist.all_reduce(both)
            sums = dict(zip(keys, both))
        out = {k: float(v) / self.count for k, v in sums.items()}
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
            "lr_scale": self.lr_scale,
        }
        if self.diverged is not None:
            payload["diverged"] = self.diverged
        if self.ema is not None:
            payload["ema"] = self.ema.state_dict()
            payload["ema_updates"] = self.ema.updates
        classes = getattr(self.batches, "classes", None)
        if classes:  # a conditional run's class names, in label order
            payload["classes"] = list(classes)
        return payload

    def save(self, rnd: int, folder: Path, keep: bool, keep_last: int, write: bool = True) -> bool:
        """checkpoints/last.pt; with keep, also round_<rnd>.pt, pruned to the newest keep_last.
        A state with a NaN or an infinity is not saved: the files hold the last finite one.
        write: False on the data-parallel ranks that write nothing (they check all the same, so
        each rank knows which round a rollback returns to). Whether the state was finite."""
        payload = self.payload(rnd)
        if distributed.env_world() > 1:  # each rank's batch order and random state
            payload["ranks"] = distributed.gather({"data": payload["data"], "rng": payload["rng"]})
        held = (
            f"{self.kept[0]} still holds round {self.kept[1]}"
            if self.kept
            else ("no finite state was saved before it")
        )
        if not self._finite(payload, rnd, held):
            return False
        if write:
            checkpoint.save(payload, folder / "last.pt")
            if keep and keep_last:
                checkpoint.save(payload, folder / f"round_{rnd:06d}.pt")
                for old in sorted(folder.glob("round_*.pt"))[:-keep_last]:
                    old.unlink()
        self.kept = (folder / "last.pt", rnd)
        return True

    def keep_best(self, rnd: int, fid: float, folder: Path) -> bool:
        """checkpoints/best.pt when fid is the lowest so far and the state finite; whether it was."""
        if not fid < self.best_fid:  # NaN never counts as better
            return False
        payload = {**self.payload(rnd), "fid": fid}
        if not self._finite(payload, rnd, f"{folder / 'best.pt'} stays as it was"):
            return False
        self.best_fid = payload["best_fid"] = fid
        checkpoint.save(payload, folder / "best.pt")
        return True

    def _finite(self, payload: dict, rnd: int, held: str) -> bool:
        """Whether payload is finite; where not, one warning saying what the files hold."""
        bad = nonfinite_parts(payload)
        if not bad:
            return True
        if self.diverged is None:
            self.diverged = {"round": rnd, "term": "state", "value": None}
        log.warning(
            "the training state at round %d is non-finite (NaN or inf in the %s) and "
            "is not saved: %s",
            rnd,
            ", ".join(bad),
            held,
        )
        return False

    def restore(self, state: dict, lr_scale: float | None = None) -> int:
        """Load a checkpoint's payload; returns its round. The optimizers take the configured
        hyper-parameters, their learning rates times lr_scale (by default the payload's)."""
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        self.lr_scale = float(state.get("lr_scale", 1.0) if lr_scale is None else lr_scale)
        if self.lr_scale != 1.0:
            self.objective.scale_lr(self.lr_scale)
        set_capturable(self.objective, False)  # a graph sets it again when it captures
        ranks = state.get("ranks") or []  # another number of processes: each continues rank 0's
        mine = ranks[distributed.env_rank()] if len(ranks) == distributed.env_world() else state
        self.batches.load_state_dict(mine["data"])
        if self.ema is not None:
            # a checkpoint from before the count was saved: one update per round, all warm
            updates = state.get("ema_updates", state["round"])
            self.ema.load_state_dict(state.get("ema", self.model.state_dict()), updates)
        rng.set_states(mine["rng"])
        self.sums = {k: v.to(self.device) for k, v in state.get("log_sums", {}).items()}
        self.count = int(state.get("log_count", 0))
        self.best_fid = float(state.get("best_fid", math.inf))
        self.diverged = state.get("diverged")
        return int(state["round"])
