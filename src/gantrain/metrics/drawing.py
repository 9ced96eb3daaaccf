"""Samples drawn for scoring and for the files gantrain writes: fixed noise from a seeded CPU
generator (the same numbers on every device, and for any batch size), decoded in inference mode
and rounded to uint8 as the PNG grids are."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255] on the CPU, rounding as the PNG grids do."""
    return images.detach().float().add(1).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8).cpu()


# noise numbers drawn at once (16 MB of float32): any sample count costs bounded memory
DRAW_NUMBERS = 1 << 22


def noise_batches(n: int, latent_dim: int, seed: int, batch: int) -> Iterator[torch.Tensor]:
    """The rows of torch.randn(n, latent_dim) from a CPU generator seeded with seed, `batch` rows
    at a time (the last may be shorter), drawn a block at a time: the very numbers of one whole
    draw. Torch's CPU normal sampler works in groups of 16 numbers and draws a final partial
    group (and any draw of under 16 numbers) differently, so every block but the last holds a
    multiple of 16 numbers, and the last holds at least 16 (or is the whole draw)."""
    g = torch.Generator().manual_seed(seed)
    step = 16 // math.gcd(latent_dim, 16)  # rows whose numbers make whole groups of 16
    block = max(step, DRAW_NUMBERS // latent_dim // step * step)
    kept, drawn = torch.empty(0, latent_dim), 0
    for start in range(0, n, batch):
        need = min(batch, n - start)
        while kept.shape[0] < need:
            rows = min(block, n - drawn)
            if (n - drawn - rows) * latent_dim < 16:  # a tail under 16 numbers joins this draw
                rows = n - drawn
            kept = torch.cat([kept, torch.randn(rows, latent_dim, generator=g)])
            drawn += rows
        yield kept[:need]
        kept = kept[need:]


@torch.no_grad()
def sample_batches(
    model,
    n: int,
    seed: int = 0,
    batch: int = 100,
    labels: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> Iterator[torch.Tensor]:
    """sample_uint8's images, uint8 (<= batch, C, H, W) a batch at a time: drawing many costs
    the memory of one batch."""
    device = next(model.parameters()).device
    if noise is None:
        noises = noise_batches(n, model.latent_dim, seed, batch)
    else:
        noises = iter(noise.split(batch))
    k = getattr(model, "num_classes", 0)
    for start, z in zip(range(0, n, batch), noises):
        y: torch.Tensor | None
        if labels is not None:
            y = labels[start : start + batch].to(device)
        else:  # model.sample_labels(n)'s slice: the classes in turn
            y = torch.arange(start, start + z.shape[0], device=device) % k if k else None
        yield to_uint8(model.sample_from_noise(z.to(device), y))


def sample_uint8(
    model,
    n: int,
    seed: int = 0,
    batch: int = 100,
    labels: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """n samples as uint8 (n, C, H, W) from fixed noise (a CPU generator, so the same on every
    device and untouched by training's RNG; or the noise (n, latent) given), in inference mode.
    A conditional model draws sample i from class labels[i]; without labels, from the classes
    in turn (i mod K)."""
    out, at = None, 0
    for images in sample_batches(model, n, seed, batch, labels, noise):
        if out is None:  # filled in place: no second copy of every image for a torch.cat
            out = torch.empty(n, *images.shape[1:], dtype=torch.uint8)
        out[at : at + images.shape[0]] = images
        at += images.shape[0]
    assert out is not None, "n > 0"
    return out
