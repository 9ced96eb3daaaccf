"""The loop: rounds, and the schedule of logs, pictures, checkpoints and stops."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from gantrain import checkpoint, rng
from gantrain.ema import EMA
from gantrain.errors import UserError
from gantrain.graphs import GraphedStep, can_graph, set_capturable
from gantrain.models.base import GenerativeModel
from gantrain.monitor import Monitor, NullMonitor
from gantrain.objectives.base import Objective
from gantrain.pictures import Pictures
from gantrain.run_files import prune_metrics, read_json, write_json
from gantrain.signals import Interrupted, StopRequests

log = logging.getLogger("gantrain")

NAN_POLICIES = ("stop", "rollback")
MAX_ROLLBACKS = 3


class Diverged(UserError):
    """A loss became NaN or infinite."""


def _positive_int(name: str, value, zero_ok: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero_ok else 1):
        kind = "a non-negative" if zero_ok else "a positive"
        raise UserError(f"{name}={value!r} must be {kind} integer")
    return value


class Trainer:
    def __init__(
        self,
        rounds: int = 50000,
        batch_size: int = 64,
        sample_at=(100, 1000),
        checkpoint_every: int = 1000,
        keep_checkpoints: int = 2,
        log_every: int = 50,
        progress: bool | None = None,
        ema_decay: float | None = None,
        nan_policy: str = "stop",
        deterministic: bool = False,
    ):
        self.rounds = _positive_int("trainer.rounds", rounds)
        self.batch_size = _positive_int("trainer.batch_size", batch_size)
        self.checkpoint_every = _positive_int("trainer.checkpoint_every", checkpoint_every)
        self.keep_checkpoints = _positive_int("trainer.keep_checkpoints", keep_checkpoints, True)
        self.log_every = _positive_int("trainer.log_every", log_every)
        if isinstance(sample_at, int | str) or sample_at is None:
            raise UserError(
                f"trainer.sample_at={sample_at!r} must be a list of positive integers, e.g. [100,1000]"
            )
        self.sample_at = sorted({_positive_int("trainer.sample_at entry", r) for r in sample_at})
        if ema_decay is not None and not 0.0 < float(ema_decay) < 1.0:
            raise UserError(
                f"trainer.ema_decay={ema_decay} must lie between 0 and 1 (e.g. 0.999), or null for none"
            )
        if nan_policy not in NAN_POLICIES:
            raise UserError(
                f"trainer.nan_policy={nan_policy!r} is not known; choose one of {', '.join(NAN_POLICIES)}"
            )
        self.progress, self.ema_decay, self.nan_policy = progress, ema_decay, nan_policy
        self.deterministic = bool(deterministic)

    def fit(
        self,
        model: GenerativeModel,
        objective: Objective,
        batches,
        run_dir: Path,
        config: dict,
        seed: int,
        device: torch.device,
        state: dict | None = None,
        hparams: dict | None = None,
        writes: bool = True,
        evaluate=None,
        eval_at: list[int] = (),
    ) -> dict:
        """Train from round state["round"] + 1 (or 1) to self.rounds; returns the summary.

        writes: False on data-parallel ranks other than 0, which train but write nothing.
        evaluate: model -> {fid, kid, ...}, called at the rounds in eval_at.
        """
        self.writes = writes
        self.evaluate = evaluate if writes else None
        self.eval_at = set(eval_at)
        self.model, self.objective, self.batches = model, objective, batches
        self.run_dir, self.config, self.device = run_dir, config, device
        self.ema = EMA(model, self.ema_decay) if self.ema_decay else None
        # the noise bank and the fixed batch come from their own generator, not the global one
        g = torch.Generator().manual_seed(seed)
        bank = torch.randn(64, model.latent_dim, generator=g)  # drawn even on resume: g moves on
        self.noise = (state["noise"] if state else bank).to(device)
        self.pictures = (
            Pictures(run_dir, batches, g, "encode" in model.provides) if writes else None
        )
        self.sums: dict[str, torch.Tensor] = {}
        self.count, self.last, self.rollbacks = 0, {}, 0
        self.last_eval, self.eval_s = {}, 0.0
        start = self._restore(state) if state else 0
        self.step = self.objective.step
        if can_graph(getattr(objective, "accel", None), batches):
            self.step = GraphedStep(objective, batches, getattr(objective, "d_steps", 1))
        if start >= self.rounds:
            log.info(
                "%s is already at round %d of %d; nothing to train", run_dir, start, self.rounds
            )
            return read_json(run_dir / "summary.json") or {"status": "done", "rounds": start}
        if start and writes:
            prune_metrics(run_dir / "metrics.jsonl", start)
        self.monitor = (
            Monitor(run_dir, self.rounds, start, self.progress) if writes else NullMonitor()
        )
        try:
            with StopRequests() as stop:
                train_s = self._loop(start, stop)
            if hparams is not None:
                self.monitor.hparams(hparams, {**self.last, **self.last_eval})
        finally:
            self.monitor.close()
        if writes:
            self.pictures.evolution()
        done = self.rounds - start
        step_s = train_s - self.eval_s  # rounds/s counts training, not evaluation
        summary = {
            "status": "done",
            "rounds": self.rounds,
            "resumed_from": start,
            "wall_s": round(train_s, 3),
            "rounds_per_s": round(done / step_s, 3) if step_s > 0 else None,
            "eval_s": round(self.eval_s, 3),
            "device": str(device),
            **(
                {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}
                if device.type == "cuda"
                else {}
            ),
            "final": {**self.last, **self.last_eval},
        }
        if writes:
            write_json(run_dir / "summary.json", summary)
        return summary

    # ---- the loop ----

    def _loop(self, start: int, stop: StopRequests) -> float:
        milestones = {r for r in self.sample_at if r <= self.rounds} | {self.rounds}
        check_each_round = self.device.type == "cpu"  # a per-round sync is free on the CPU only
        t0 = time.perf_counter()
        self.model.train()
        rnd = start
        while rnd < self.rounds:
            rnd += 1
            logs = self.step(self.model, self.batches)
            if self.ema is not None:
                self.ema.update(self.model)
            for k, v in logs.items():  # running sums stay on the device: no sync per round
                self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
            self.count += 1
            self.monitor.advance()
            log_now = rnd % self.log_every == 0 or rnd in milestones or rnd in self.eval_at
            if (check_each_round or log_now) and not self._finite(logs, rnd):
                rnd = self._rollback()
                continue
            shown = self.ema.model if self.ema else self.model  # what pictures and scores see
            if rnd in milestones and self.writes:
                if shown is not self.model:  # the raw weights' prior too, for ema=false sampling
                    self.pictures.refit(self.model)
                self.pictures.milestone(rnd, shown, self.noise, self.monitor)
            if log_now:
                self.last = {k: float(v) / self.count for k, v in self.sums.items()}
                row = dict(self.last)
                if rnd in self.eval_at and self.evaluate is not None:
                    self.last_eval = self.evaluate(shown)
                    self.eval_s += self.last_eval.get("eval_s", 0.0)
                    row.update(self.last_eval)
                self.monitor.scalars(rnd, row)
                self.sums, self.count = {}, 0
            is_milestone = rnd in milestones and rnd in self.sample_at
            if rnd % self.checkpoint_every == 0 or rnd in milestones or stop.signum:
                self._save(rnd, keep=is_milestone)
            if stop.signum:
                raise Interrupted(stop.signum, rnd)
        return time.perf_counter() - t0

    def _finite(self, logs: dict, rnd: int) -> bool:
        if bool(torch.isfinite(torch.stack([v.float() for v in logs.values()])).all()):
            return True
        bad = [k for k, v in logs.items() if not math.isfinite(float(v))]
        where = f"{', '.join(bad)} became {float(logs[bad[0]])} at round {rnd}"
        last = self.run_dir / "checkpoints" / "last.pt"
        if self.nan_policy == "rollback" and last.is_file() and self.rollbacks < MAX_ROLLBACKS:
            log.warning("%s: reloading %s and halving the learning rates", where, last)
            return False
        raise Diverged(
            f"{where}; the last good checkpoint is kept in {last.parent}. Lower the "
            "learning rate (objective.optimizer.lr), set trainer.nan_policy=rollback, "
            "or change the seed"
        )

    def _rollback(self) -> int:
        self.rollbacks += 1
        start = self._restore(checkpoint.load(self.run_dir / "checkpoints" / "last.pt"))
        self.objective.scale_lr(0.5**self.rollbacks)
        if isinstance(self.step, GraphedStep):
            self.step.reset()
        self.sums, self.count = {}, 0
        return start

    # ---- checkpoints ----

    def _save(self, rnd: int, keep: bool) -> None:
        if not self.writes:
            return
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
        }
        if self.ema is not None:
            payload["ema"] = self.ema.state_dict()
        folder = self.run_dir / "checkpoints"
        checkpoint.save(payload, folder / "last.pt")
        if keep and self.keep_checkpoints:
            checkpoint.save(payload, folder / f"round_{rnd:06d}.pt")
            for old in sorted(folder.glob("round_*.pt"))[: -self.keep_checkpoints]:
                old.unlink()

    def _restore(self, state: dict) -> int:
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        set_capturable(self.objective, False)  # a graph sets it again when it captures
        self.batches.load_state_dict(state["data"])
        if self.ema is not None:
            self.ema.load_state_dict(state.get("ema", self.model.state_dict()))
        rng.set_states(state["rng"])
        self.sums = {k: v.to(self.device) for k, v in state.get("log_sums", {}).items()}
        self.count = int(state.get("log_count", 0))
        return int(state["round"])
