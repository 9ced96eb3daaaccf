"""Milestone pictures: samples of the fixed noise bank, reconstructions, the evolution strip."""

from __future__ import annotations

from pathlib import Path

import torch

from gantrain.models.base import GenerativeModel
from gantrain.record import images

PRIOR_FIT_IMAGES = 2048  # training codes used to refit a fitted prior at each milestone


class Pictures:
    def __init__(self, run_dir: Path, batches, generator: torch.Generator, encodes: bool):
        self.run_dir = run_dir
        self.batches = batches
        # a fixed batch of real images for reconstructions, drawn once per run
        self.recon_batch = (
            batches.fixed(32, generator).float().div(127.5).sub(1.0) if encodes else None
        )

    @torch.no_grad()
    def refit(self, model: GenerativeModel) -> None:
        """Refit a fitted prior (AE) to the codes of training images; a no-op for other models."""
        if self.recon_batch is None:
            return
        was = model.training
        model.eval()
        n = min(len(self.batches), PRIOR_FIT_IMAGES)
        imgs = self.batches.fixed(n, torch.Generator().manual_seed(0)).float().div(127.5).sub(1.0)
        model.refresh_prior(
            torch.cat([model.encode(imgs[i : i + 256])[0] for i in range(0, n, 256)])
        )
        model.train(was)

    @torch.no_grad()
    def milestone(self, rnd: int, model: GenerativeModel, noise: torch.Tensor, monitor) -> None:
        was = model.training
        model.eval()
        try:
            self.refit(model)
            path = self.run_dir / "samples" / f"round_{rnd:06d}.png"
            monitor.image("samples", rnd, images.save_grid(model.sample_from_noise(noise), path))
            if self.recon_batch is not None:
                recon = model.decode(model.encode(self.recon_batch)[0])
                pairs = images.interleave_rows(self.recon_batch, recon)
                path = self.run_dir / "reconstructions" / f"round_{rnd:06d}.png"
                monitor.image("reconstructions", rnd, images.save_grid(pairs, path))
        finally:
            model.train(was)

    def evolution(self) -> None:
        grids = {
            int(p.stem.split("_")[1]): p for p in (self.run_dir / "samples").glob("round_*.png")
        }
        images.evolution(grids, self.run_dir / "samples" / "evolution.png")
