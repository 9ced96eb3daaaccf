"""The loop: one round after another, with the pictures, logs, scores and checkpoints the
schedule asks for, until the last round or a stop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from gantrain.hardware.graphs import GraphedRound, can_graph
from gantrain.hardware.sync_batchnorm import training_step
from gantrain.kinds import Count, Duration, Flag, OpenUnit, PositiveInt, Rounds
from gantrain.models.base import GenerativeModel
from gantrain.objectives.base import Objective
from gantrain.record.monitor import Monitor, NullMonitor
from gantrain.record.pictures import Pictures
from gantrain.record.run_files import prune_metrics, read_json, write_json
from gantrain.training import checkpoint
from gantrain.training.burn_in import BurnIn
from gantrain.training.ema import EMA
from gantrain.training.nan_policy import (
    MAX_ROLLBACKS,
    Diverged,
    NanGuard,
    NanPolicy,
    exploded_warning,
)
from gantrain.training.schedule import Schedule
from gantrain.training.signals import StoppedBySignal, StopRequests
from gantrain.training.state import TrainState, nonfinite_parts
from gantrain.training.time_limit import Deadline, rng_untouched

log = logging.getLogger("gantrain")


class Trainer:
    """The loop's settings (conf/trainer/): the schema checks them against these annotations."""

    def __init__(
        self,
        rounds: PositiveInt = 50000,
        batch_size: PositiveInt = 64,
        sample_at: Rounds = (100, 1000),
        checkpoint_every: PositiveInt = 1000,
        keep_checkpoints: Count = 2,
        log_every: PositiveInt = 50,
        progress: Flag | None = None,
        ema_decay: OpenUnit | None = None,
        ema_warmup: Flag = True,
        nan_policy: NanPolicy = "stop",
        deterministic: Flag = False,
        time_limit: Duration | None = None,
        batch_per_process: PositiveInt | None = None,
    ):
        self.rounds, self.batch_size = rounds, batch_size
        self.batch_per_process = batch_per_process
        self.checkpoint_every, self.keep_checkpoints = checkpoint_every, keep_checkpoints
        self.log_every = log_every
        self.sample_at = sorted(set(sample_at))
        self.progress, self.ema_decay, self.nan_policy = progress, ema_decay, nan_policy
        self.ema_warmup = ema_warmup
        self.deterministic = bool(deterministic)
        self.time_limit = time_limit

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
        evaluate: Callable[[GenerativeModel], dict] | None = None,
        eval_at: Sequence[int] = (),
        burn_in: BurnIn | None = None,
    ) -> dict:
        """Train from round state["round"] + 1 (or 1) to self.rounds; returns the summary.

        writes: False on data-parallel ranks other than 0, which train but write nothing.
        evaluate: model -> {fid, kid, ...}, called at the rounds in eval_at.
        burn_in: hyper-parameters set before each round from the round alone (schedule=...).
        """
        start = self._prepare(
            model,
            objective,
            batches,
            run_dir,
            config,
            seed,
            device,
            state,
            writes,
            evaluate,
            eval_at,
            burn_in,
        )
        if start >= self.rounds:
            return self._nothing_to_train(start)
        if writes:  # held from the start: a full disk can still be recorded in it
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "summary.json", {"status": "running"}, reserve=True)
        if start and writes:
            prune_metrics(run_dir / "metrics.jsonl", start)
        self.monitor = (
            Monitor(run_dir, self.rounds, start, self.progress, config) if writes else NullMonitor()
        )
        try:
            with StopRequests() as stop:
                train_s = self._loop(start, stop)
            if hparams is not None:
                self.monitor.hparams(hparams, {**self.last, **self.last_eval})
        finally:
            self.monitor.close()
        if self.pictures is not None:  # None exactly when the run writes nothing
            self.pictures.evolution()
        summary = self._summary(start, train_s)
        if writes:
            write_json(run_dir / "summary.json", summary, reserve=True)
        return summary

    def _prepare(
        self,
        model,
        objective,
        batches,
        run_dir: Path,
        config: dict,
        seed: int,
        device: torch.device,
        state: dict | None,
        writes: bool,
        evaluate,
        eval_at,
        burn_in: BurnIn | None,
    ) -> int:
        """This fit's state (restored from `state` when given); returns the round it starts after."""
        self.writes, self.run_dir, self.device = writes, run_dir, device
        self.evaluate = evaluate if writes else None
        self.schedule = Schedule(
            self.rounds, self.sample_at, self.checkpoint_every, self.log_every, frozenset(eval_at)
        )
        # the noise bank and the fixed batch come from their own generator, not the global one
        g = torch.Generator().manual_seed(seed)
        bank = torch.randn(64, model.latent_dim, generator=g)  # drawn even on resume: g moves on
        noise = (state["noise"] if state else bank).to(device)
        averaged = self.ema_decay or (burn_in is not None and burn_in.sets_ema)
        ema = EMA(model, self.ema_decay or 0.0, self.ema_warmup) if averaged else None
        self.burn_in = burn_in
        if burn_in is not None:
            world = getattr(getattr(objective, "accel", None), "world", 1)
            burn_in.bind(objective, ema, self.batch_size * world, device)
        self.state = TrainState(model, objective, batches, ema, noise, config, device)
        self.pictures = (
            Pictures(run_dir, batches, g, "encode" in model.provides) if writes else None
        )
        self.guard = NanGuard(self.nan_policy)
        self.last: dict[str, float] = {}
        self.last_eval: dict[str, float] = {}
        self.eval_s = 0.0
        self.eval_on = bool(eval_at) and self.evaluate is not None
        self.stopped_at: int | None = None  # the round the time limit stopped the run after
        start = self.state.restore(state) if state else 0
        if state:  # the file it came from (last.pt, or a milestone where last.pt was damaged)
            self.state.kept = (
                Path(state.get("loaded_from", run_dir / "checkpoints" / "last.pt")),
                start,
            )
        self._choose_round(objective, batches, burn_in)
        return start

    def _choose_round(self, objective, batches, burn_in: BurnIn | None) -> None:
        """How a round runs: the objective's own, or a CUDA graph of it where one can run."""
        self.run_round = objective.run_round
        self.passes = getattr(getattr(objective, "accel", None), "accumulate", 1)
        if can_graph(objective, batches) and self.passes == 1:
            if burn_in is None:
                self.run_round = GraphedRound(
                    objective, batches, getattr(objective, "critic_steps", 1)
                )
            else:  # a graph would freeze the numbers the schedule changes
                log.info(
                    "the schedule sets learning rates and penalty weights each round, which "
                    "a CUDA graph would freeze: rounds run eagerly"
                )

    def _nothing_to_train(self, start: int) -> dict:
        log.info(
            "%s is already at round %d of %d; nothing to train", self.run_dir, start, self.rounds
        )
        # an interrupted run's summary holds no round count: the checkpoint's is the truth
        before = read_json(self.run_dir / "summary.json") or {}
        if before.get("status") == "time_limit":  # stopped where the run now ends
            before["status"] = "done"
        return {"status": "done", **before, "rounds": start}

    def _loop(self, start: int, stop: StopRequests) -> float:
        st, when = self.state, self.schedule
        check_each_round = self.device.type == "cpu"  # a per-round sync is free on the CPU only
        deadline = Deadline(self.time_limit, self.device)
        t0 = time.perf_counter()
        deadline.start()
        st.model.train()
        rnd = start
        while rnd < self.rounds:
            rnd += 1
            scheduled = self.burn_in.apply(rnd - 1, st.lr_scale) if self.burn_in else {}
            for _ in range(self.passes):  # micro-batches of one step (gradient accumulation)
                with training_step():
                    logs = {**self.run_round(st.model, st.batches), **scheduled}
                st.add(logs)
            if st.ema is not None:
                st.ema.update(st.model)
            self.monitor.advance()
            # past the time limit: this round ends the run as the last round would
            final = rnd < self.rounds and deadline.passed()
            checked = check_each_round or when.logs(rnd) or final
            if checked and not self.guard.finite(logs, rnd, st.kept):
                rnd = self._rollback()
                continue
            if final:
                log.info(
                    "time limit %s reached after round %d: stopping with that round's %s",
                    deadline.words,
                    rnd,
                    "checkpoint, grid and evaluation" if self.eval_on else "checkpoint and grid",
                )
            self._outputs(rnd, final)
            if when.checkpoints(rnd) or stop.signum or final:
                st.save(
                    rnd,
                    self.run_dir / "checkpoints",
                    when.keeps(rnd),
                    self.keep_checkpoints,
                    write=self.writes,
                )
            if stop.signum:
                raise StoppedBySignal(stop.signum, rnd)
            if final:
                self.stopped_at = rnd
                break
        return time.perf_counter() - t0

    def _outputs(self, rnd: int, final: bool) -> None:
        """The round's grid, log row and evaluation where the schedule asks for them, and all
        three on the round a time limit stops at. What the schedule did not ask for leaves the
        random generators and the open log window as they were, so the checkpoint after it
        continues as an uninterrupted run would."""
        st, when = self.state, self.schedule
        shown = st.ema.model if st.ema else st.model  # what pictures and scores see
        if (when.pictures(rnd) or final) and self.pictures is not None:
            with rng_untouched(not when.pictures(rnd)):
                if shown is not st.model:  # the raw weights' prior too, for ema=false sampling
                    self.pictures.refit(st.model)
                self.pictures.milestone(rnd, shown, st.noise, self.monitor)
        if not (when.logs(rnd) or final):
            return
        window = st.sums, st.count
        self.last, scores = st.means(), {}
        if not when.logs(rnd):
            st.sums, st.count = window
        if (when.evaluates(rnd) or final) and self.eval_on:
            with rng_untouched(not when.evaluates(rnd)):
                assert self.evaluate is not None  # eval_on says so
                self.last_eval = scores = self.evaluate(shown)
            self.eval_s += self.last_eval.get("eval_s", 0.0)
            if "fid" in self.last_eval:
                st.keep_best(rnd, self.last_eval["fid"], self.run_dir / "checkpoints")
        self.monitor.scalars(rnd, self.last, scores)
        if when.logs(rnd):  # divergence is judged on the schedule's windows
            self._watch(rnd)

    def _watch(self, rnd: int) -> None:
        """Mark the run diverged once its logged losses exploded (finite, but far too large)."""
        record = self.guard.exploded(self.last, rnd)
        if record is not None and self.state.diverged is None:
            self.state.diverged = record
            log.warning("%s; the run goes on to round %d", exploded_warning(record), self.rounds)

    def _rollback(self) -> int:
        """Back to the newest finite checkpoint with the learning rates halved once more (of
        the configured ones); returns its round."""
        st = self.state
        assert st.kept is not None  # nan_policy=rollback starts only from a finite checkpoint
        path, kept = st.kept
        payload = checkpoint.load(path)
        if nonfinite_parts(payload):  # only finite states are saved; an older gantrain's may not be
            raise Diverged(
                f"{path} (round {kept}) holds a NaN or an infinity, so a rollback "
                "cannot start from it; lower the learning rate (objective.optimizer.lr) "
                "or change the seed"
            )
        scale = min(st.lr_scale, float(payload.get("lr_scale", 1.0))) / 2
        start = st.restore(payload, lr_scale=scale)
        log.warning(
            "%s; rollback %d of %d: reloaded %s (round %d), the learning rates now %g "
            "of the configured ones",
            self.guard.reason,
            self.guard.rollbacks,
            MAX_ROLLBACKS,
            path,
            start,
            scale,
        )
        if isinstance(self.run_round, GraphedRound):
            self.run_round.reset()
        st.sums, st.count = {}, 0
        self.guard.streak = []  # the exploded windows before the rollback are undone with it
        return start

    def _summary(self, start: int, train_s: float) -> dict:
        step_s = train_s - self.eval_s  # rounds/s counts training, not evaluation
        device = self.device
        diverged, stopped = self.state.diverged, self.stopped_at
        status = "diverged" if diverged else "time_limit" if stopped else "done"
        reached = stopped or self.rounds
        return {
            "status": status,
            **(
                {
                    "diverged": True,
                    "diverged_round": diverged["round"],
                    "diverged_term": diverged["term"],
                    "diverged_value": diverged["value"],
                }
                if diverged
                else {}
            ),
            **({"rollbacks": self.guard.rollbacks} if self.guard.rollbacks else {}),
            "rounds": reached,
            **({"target_rounds": self.rounds, "time_limit": self.time_limit} if stopped else {}),
            "resumed_from": start,
            "wall_s": round(train_s, 3),
            "rounds_per_s": round((reached - start) / step_s, 3) if step_s > 0 else None,
            "eval_s": round(self.eval_s, 3),
            "device": str(device),
            **(
                {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}
                if device.type == "cuda"
                else {}
            ),
            "final": {**self.last, **self.last_eval},
        }
