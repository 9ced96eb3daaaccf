"""The loop: rounds, the schedule of logs, grids, reconstructions and checkpoints."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import torch

from gantrain import checkpoint, images, rng
from gantrain.data.batches import TensorBatches
from gantrain.errors import UserError
from gantrain.models.base import GenerativeModel
from gantrain.monitor import Monitor
from gantrain.objectives.base import Objective

log = logging.getLogger("gantrain")

GRID = 64  # 8x8 samples from the fixed noise bank
PRIOR_FIT_IMAGES = 2048  # codes used to refit a fitted prior at each milestone


class Diverged(UserError):
    """A loss became NaN or infinite."""


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{name}={value!r} must be a positive integer")
    return value


class Trainer:
    def __init__(
        self,
        rounds: int = 50000,
        batch_size: int = 64,
        sample_at=(100, 1000),
        checkpoint_every: int = 1000,
        log_every: int = 50,
        progress: bool | None = None,
    ):
        self.rounds = _positive_int("trainer.rounds", rounds)
        self.batch_size = _positive_int("trainer.batch_size", batch_size)
        self.checkpoint_every = _positive_int("trainer.checkpoint_every", checkpoint_every)
        self.log_every = _positive_int("trainer.log_every", log_every)
        if isinstance(sample_at, int | str) or sample_at is None:
            raise UserError(
                f"trainer.sample_at={sample_at!r} must be a list of positive integers, e.g. [100,1000]"
            )
        self.sample_at = sorted({_positive_int("trainer.sample_at entry", r) for r in sample_at})
        self.progress = progress

    # ---- milestone pictures ----

    @torch.no_grad()
    def _codes(self, model: GenerativeModel, batches: TensorBatches) -> torch.Tensor:
        was = model.training
        model.eval()
        n = min(len(batches), PRIOR_FIT_IMAGES)
        imgs = batches.fixed(n, torch.Generator().manual_seed(0)).float().div(127.5).sub(1.0)
        codes = torch.cat([model.encode(imgs[i : i + 256])[0] for i in range(0, n, 256)])
        model.train(was)
        return codes  # (n, latent)

    def _milestone(self, rnd, model, batches, noise, recon_batch, run_dir, monitor) -> None:
        if "encode" in model.provides:
            model.refresh_prior(self._codes(model, batches))
        grid = images.save_grid(
            model.sample_from_noise(noise), run_dir / "samples" / f"round_{rnd:06d}.png"
        )
        monitor.image("samples", rnd, grid)
        if recon_batch is not None:
            with torch.no_grad():
                was = model.training
                model.eval()
                recon = model.decode(model.encode(recon_batch)[0])
                model.train(was)
            pairs = images.interleave_rows(recon_batch, recon)
            grid = images.save_grid(pairs, run_dir / "reconstructions" / f"round_{rnd:06d}.png")
            monitor.image("reconstructions", rnd, grid)

    # ---- the loop ----

    def fit(
        self,
        model: GenerativeModel,
        objective: Objective,
        batches: TensorBatches,
        run_dir: Path,
        config: dict,
        seed: int,
        device: torch.device,
        state: dict | None = None,
    ) -> dict:
        start = int(state["round"]) if state else 0
        g = torch.Generator().manual_seed(seed)
        noise = state["noise"] if state else torch.randn(GRID, model.latent_dim, generator=g)
        noise = noise.to(device)
        recon_batch = None
        if "encode" in model.provides:
            recon_batch = batches.fixed(32, g).float().div(127.5).sub(1.0)
        if state:
            model.load_state_dict(state["model"])
            objective.load_state_dict(state["objective"])
            batches.load_state_dict(state["data"])
            rng.set_states(state["rng"])

        monitor = Monitor(run_dir, self.rounds, start, self.progress)
        # the last round always gets its pictures, so a short run still shows what it learned
        milestones = {r for r in self.sample_at if r <= self.rounds} | {self.rounds}
        sums: dict[str, torch.Tensor] = {}
        count, last = 0, {}
        t0 = time.perf_counter()

        def save_checkpoint(rnd: int) -> None:
            checkpoint.save(
                {
                    "round": rnd,
                    "model": model.state_dict(),
                    "objective": objective.state_dict(),
                    "data": batches.state_dict(),
                    "rng": rng.get_states(),
                    "noise": noise.cpu(),
                    "config": config,
                },
                run_dir / "checkpoints" / "last.pt",
            )

        try:
            model.train()
            for rnd in range(start + 1, self.rounds + 1):
                logs = objective.step(model, batches)
                for k, v in logs.items():  # running sums stay on the device: no sync per round
                    sums[k] = sums[k] + v if k in sums else v.clone()
                count += 1
                monitor.advance()
                if rnd % self.log_every == 0 or rnd == self.rounds or rnd in milestones:
                    last = {k: float(v) / count for k, v in sums.items()}
                    bad = [k for k, v in last.items() if not math.isfinite(v)]
                    if bad:
                        raise Diverged(
                            f"{', '.join(bad)} became {last[bad[0]]} by round {rnd}; the last good "
                            f"checkpoint is kept in {run_dir / 'checkpoints'}. Lower the learning rate"
                            " (objective.optimizer.lr) or change the seed"
                        )
                    monitor.scalars(rnd, last)
                    sums, count = {}, 0
                if rnd in milestones:
                    self._milestone(rnd, model, batches, noise, recon_batch, run_dir, monitor)
                if rnd % self.checkpoint_every == 0 or rnd in milestones or rnd == self.rounds:
                    save_checkpoint(rnd)
            train_s = time.perf_counter() - t0
        finally:
            monitor.close()

        grids = {int(p.stem.split("_")[1]): p for p in (run_dir / "samples").glob("round_*.png")}
        images.evolution(grids, run_dir / "samples" / "evolution.png")
        done = self.rounds - start
        summary = {
            "status": "done",
            "rounds": self.rounds,
            "resumed_from": start,
            "wall_s": round(train_s, 3),
            "rounds_per_s": round(done / train_s, 3) if train_s > 0 else None,
            "device": str(device),
            "final": last,
        }
        write_json(run_dir / "summary.json", summary)
        return summary


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
