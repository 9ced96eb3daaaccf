"""Milestone pictures: samples of the fixed noise bank, reconstructions, the evolution strip.

A conditional model's grid has one class per row (the first CLASS_ROWS classes) and one noise
vector per column, so each column shows one style drawn as every class."""

from __future__ import annotations

from pathlib import Path

import torch

from gantrain.data.labelled import split
from gantrain.models.base import GenerativeModel
from gantrain.record import images

PRIOR_FIT_IMAGES = 2048  # training codes used to refit a fitted prior at each milestone
CLASS_ROWS = 10  # rows of a conditional grid: the first classes
PER_ROW = 8  # images a grid row holds (torchvision make_grid's default)


def class_rows(model: GenerativeModel, noise: torch.Tensor):
    """(noise, labels) for a grid: the noise as it is, no labels, for an unconditional model;
    for a conditional one, the first PER_ROW noise vectors repeated for each of the first
    CLASS_ROWS classes (labels (rows * PER_ROW,))."""
    if not model.num_classes:
        return noise, None
    rows = min(model.num_classes, CLASS_ROWS)
    labels = torch.arange(rows, device=noise.device).repeat_interleave(PER_ROW)
    return noise[:PER_ROW].repeat(rows, 1), labels


@torch.no_grad()
def encode_all(model: GenerativeModel, images_and_labels, chunk: int = 256) -> torch.Tensor:
    """Codes (N, latent) of images in [-1, 1] (with their labels where the run has them)."""
    x, labels = split(images_and_labels)
    return torch.cat(
        [
            model.encode(x[i : i + chunk], None if labels is None else labels[i : i + chunk])[0]
            for i in range(0, x.shape[0], chunk)
        ]
    )


def as_float(images_and_labels):
    """uint8 images (and labels) -> images in [-1, 1] (and the same labels)."""
    x, labels = split(images_and_labels)
    x = x.float().div(127.5).sub(1.0)
    return x if labels is None else (x, labels)


class Pictures:
    def __init__(self, run_dir: Path, batches, generator: torch.Generator, encodes: bool):
        self.run_dir = run_dir
        self.batches = batches
        # a fixed batch of real images (and labels) for reconstructions, drawn once per run
        self.recon_batch = as_float(batches.fixed(32, generator)) if encodes else None

    @torch.no_grad()
    def refit(self, model: GenerativeModel) -> None:
        """Refit a fitted prior (AE) to the codes of training images; a no-op for other models."""
        if self.recon_batch is None:
            return
        was = model.training
        model.eval()
        n = min(len(self.batches), PRIOR_FIT_IMAGES)
        real = as_float(self.batches.fixed(n, torch.Generator().manual_seed(0)))
        model.refresh_prior(encode_all(model, real))
        model.train(was)

    @torch.no_grad()
    def milestone(self, rnd: int, model: GenerativeModel, noise: torch.Tensor, monitor) -> None:
        was = model.training
        model.eval()
        try:
            self.refit(model)
            path = self.run_dir / "samples" / f"round_{rnd:06d}.png"
            drawn = model.sample_from_noise(*class_rows(model, noise))
            monitor.image("samples", rnd, images.save_grid(drawn, path))
            if self.recon_batch is not None:
                x, labels = split(self.recon_batch)
                recon = model.decode(encode_all(model, self.recon_batch), labels)
                pairs = images.interleave_rows(x, recon)
                path = self.run_dir / "reconstructions" / f"round_{rnd:06d}.png"
                monitor.image("reconstructions", rnd, images.save_grid(pairs, path))
        finally:
            model.train(was)

    def evolution(self) -> None:
        grids = {
            int(p.stem.split("_")[1]): p for p in (self.run_dir / "samples").glob("round_*.png")
        }
        images.evolution(grids, self.run_dir / "samples" / "evolution.png")
