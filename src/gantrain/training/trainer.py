"""The loop: one round after another, with the pictures, logs, scores and checkpoints the
schedule asks for, until the last round or a stop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from gantrain.hardware.graphs import GraphedRound, round_runner
from gantrain.hardware.sync_batchnorm import training_step
from gantrain.kinds import Count, Duration, Flag, OpenUnit, PositiveInt, Rounds
from gantrain.models.base import GenerativeModel
from gantrain.objectives.base import Objective
from gantrain.record.monitor import Monitor, NullMonitor
from gantrain.record.pictures import Pictures
from gantrain.record.run_files import prune_metrics, write_json
from gantrain.training.burn_in import BurnIn
from gantrain.training.ema import EMA
from gantrain.training.nan_policy import (
    MAX_ROLLBACKS,
    NanGuard,
    NanPolicy,
    exploded_warning,
    finite_payload,
)
from gantrain.training.outcome import already_done, summary_of
from gantrain.training.schedule import Schedule
from gantrain.training.signals import StoppedBySignal, StopRequests
from gantrain.training.state import TrainState
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
            return already_done(self.run_dir, start, self.rounds)
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
        summary = summary_of(self, start, train_s)
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
        self.passes = getattr(getattr(objective, "accel", None), "accumulate", 1)
        self.run_round = round_runner(objective, batches, self.passes, burn_in is not None)
        return start

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
        payload = finite_payload(path, kept)
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
