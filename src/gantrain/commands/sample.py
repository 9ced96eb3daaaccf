"""`gantrain-sample`: images from a trained run as .npz, a PNG grid or a folder of PNGs;
interpolations also as an animated GIF or MP4."""

from __future__ import annotations

import logging
import math
from itertools import chain
from pathlib import Path
from typing import Annotated, Literal

import torch

from gantrain.cli.arguments import run
from gantrain.cli.runs import load_run
from gantrain.cli.seeded import class_labels, seed_labels, seeded_batches
from gantrain.errors import UserError
from gantrain.kinds import (
    NOT_A_FLAG,
    ClassName,
    DeviceKind,
    Flag,
    Integer,
    Overrides,
    PathText,
    PositiveInt,
)
from gantrain.models.latent import Seeds, Truncation, fixed_statistics, parse_seeds, truncate
from gantrain.record import lock
from gantrain.schema import Schema

log = logging.getLogger("gantrain")
# samples: draws from the prior; interpolate: paths between latent pairs; reconstruct: AE/VAE
Mode = Annotated[Literal["samples", "interpolate", "reconstruct"], NOT_A_FLAG]


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical paths (n, steps, d) between rows of a and b: for Gaussian noise, every point
    keeps the norm typical of a draw, where the straight line passes through low-norm codes."""
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((an * bn).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (n, 1, 1)
    t = t[None, :, None]
    return (
        torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]
    ) / torch.sin(omega)


@torch.no_grad()
def interpolations(
    model,
    pairs: int,
    steps: int,
    seed: int,
    labels: torch.Tensor | None = None,
    truncation: float = 1.0,
) -> torch.Tensor:
    """uint8 (pairs * 2 * steps, C, H, W): per pair a straight row, then a spherical row; a
    conditional model keeps each pair's class (labels (pairs,)) along both of its rows."""
    from gantrain.metrics.drawing import sample_uint8

    g = torch.Generator().manual_seed(seed)
    a, b = truncate(torch.randn(2, pairs, model.latent_dim, generator=g), truncation)
    t = torch.linspace(0, 1, steps)
    lerp = a[:, None] + t[None, :, None] * (b - a)[:, None]  # (pairs, steps, d)
    paths = torch.stack([lerp, _slerp(a, b, t)], 1).reshape(-1, model.latent_dim)
    if labels is not None:
        labels = labels.repeat_interleave(2 * steps)  # (pairs * 2 * steps,)
    return sample_uint8(model, len(paths), noise=paths, labels=labels, batch=500)


@torch.no_grad()
def reconstructions(model, dataset: dict, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, reconstructions), uint8 (n, C, H, W) each, of n random test images (a conditional
    model reconstructs each with its label)."""
    from gantrain.metrics.data import reference_images, reference_labels
    from gantrain.metrics.drawing import to_uint8

    if "encode" not in model.provides:
        raise UserError(
            f"mode=reconstruct needs a model that encodes (ae, vae); this run's model is "
            f"{type(model).__name__}, which only generates: use mode=samples or mode=interpolate"
        )
    real = reference_images(dataset, "test")
    labels = reference_labels(dataset, "test") if model.num_classes else None
    if model.num_classes and labels is None:
        raise UserError(
            "mode=reconstruct of a conditional run needs the test images' labels, which this "
            "dataset does not have: use mode=samples"
        )
    pick = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    real = real[pick]
    device = next(model.parameters()).device
    x = real.to(device).float().div(127.5).sub(1.0)
    y = None if labels is None else labels[pick].to(device)
    return real, to_uint8(model.decode(model.encode(x, y)[0], y))


def write_images(out: Path, images: torch.Tensor, per_row: int, extra: dict | None = None) -> None:
    """uint8 (N, C, H, W) to out.npz (key images, plus extra arrays), out.png (one grid, per_row
    images a row) or the directory out (000000.png, ...)."""
    from gantrain.record.sample_files import write_stream

    write_stream(out, images.split(1000), tuple(images.shape), per_row, extra)


def check_out(out: Path) -> None:
    """out can be written as what its name asks for, before the run is loaded."""
    from gantrain.cli.places import check_writable

    if out.suffix == "" and out.exists() and not out.is_dir():
        raise UserError(
            f"out={out} is an existing file, and a name without an extension asks for a folder "
            f"of PNGs: give a new folder name, or out={out}.npz / out={out}.png for one file"
        )
    if out.suffix != "" and out.is_dir():
        raise UserError(
            f"out={out} is an existing folder, and a {out.suffix} name asks for one file: give "
            f"another name, or out={out.with_suffix('')} for a folder of PNGs"
        )
    check_writable(out if out.suffix == "" else out.parent, "out", shown=str(out))
    claim_out(out)


def claim_out(out: Path) -> None:
    """One writer per output, as per run directory: a second command writing this out= while
    the first one does is refused before the run is loaded."""
    fix = "wait for it to finish or give another out="
    if out.suffix == "":
        lock.claim(out, fix)
    else:
        lock.claim_file(out, fix)


def walk(out: Path, paths: torch.Tensor, steps: int, fps: int) -> None:
    """interpolations()' images as an animation: frame t shows every path's t-th image, each
    pair's straight and spherical paths side by side, there and back."""
    from gantrain.record.animation import grid_frames, there_and_back, write_animation

    frames = paths.reshape(-1, steps, *paths.shape[1:]).transpose(0, 1)  # (steps, paths, C, H, W)
    pairs = frames.shape[1] // 2
    # pairs a row: the smallest divisor of pairs from its square root up, so every row is full
    across = next(d for d in range(max(1, math.ceil(pairs**0.5)), pairs + 1) if pairs % d == 0)
    per_row = 2 * across
    write_animation(there_and_back(grid_frames(frames, per_row)), out, fps)


def sample(
    run_dir: PathText | None = None,
    checkpoint: PathText | None = None,
    mode: Mode = "samples",
    num_samples: PositiveInt = 64,
    out: PathText | None = None,
    steps: PositiveInt = 10,
    class_: ClassName | None = None,
    fps: PositiveInt = 10,
    ema: Flag = True,
    seed: Integer = 0,
    device: DeviceKind = "auto",
    dataset: Overrides | None = None,
    seeds: Seeds | None = None,
    truncation: Truncation = 1.0,
) -> Path:
    """Draw from a run as conf/sample.yaml describes each key; returns where it wrote."""
    from gantrain.hardware.device import resolve_device
    from gantrain.record.sample_files import check_grid

    seeds = None if seeds is None else parse_seeds(seeds)
    n = num_samples if seeds is None else len(seeds)
    target = _checked_out(out, mode, seeds, truncation)
    check_out(target)
    # interpolations: a straight and a spherical row per pair; reconstructions beside inputs
    check_grid(target, {"samples": n, "interpolate": n * 2 * steps, "reconstruct": 2 * n}[mode])
    run = load_run(run_dir, checkpoint, ema, dataset or {}, resolve_device(device))
    model = run.model
    if seeds is not None or truncation != 1:  # normalised as one fixed batch: see latent.py
        model = fixed_statistics(model)
    labels = class_labels(run, class_, n) if seeds is None else seed_labels(run, class_, seeds)
    log.info("sampling %s with the %s weights", mode, run.weights)
    if mode == "samples":
        _draw(target, model, n, seed, labels, seeds, truncation)
    elif mode == "interpolate" and target.suffix in ANIMATIONS:
        walk(target, interpolations(model, n, steps, seed, labels, truncation), steps, fps)
    elif mode == "interpolate":
        paths = {} if labels is None else {"labels": labels.repeat_interleave(2 * steps)}
        images = interpolations(model, n, steps, seed, labels, truncation)
        write_images(target, images, steps, extra=paths)
    else:
        if class_ is not None:
            raise UserError(
                f"class={class_} does not apply to mode=reconstruct: each test image is "
                "reconstructed with its own label; leave class out"
            )
        _reconstruct(target, model, run.data(), n, seed)
    lock.release(target)
    return target


ANIMATIONS = (".gif", ".mp4")


def _checked_out(out: str | None, mode: str, seeds, truncation: float) -> Path:
    """out= as a path, once it and the mode, seeds= and truncation= fit together."""
    if seeds is not None and mode != "samples":
        raise UserError(f"seeds= draws mode=samples; drop seeds= for mode={mode} (it uses seed=)")
    if truncation != 1 and mode == "reconstruct":
        raise UserError("truncation= applies to drawn latents, not to mode=reconstruct; drop it")
    if out is None:
        raise UserError("give out=PATH.npz, out=PATH.png or out=DIRECTORY")
    path = Path(out).expanduser()
    animated = path.suffix in ANIMATIONS
    if animated and mode != "interpolate":
        raise UserError(f"out={path}: animations are of mode=interpolate; give out=PATH.png here")
    if path.suffix not in ("", ".npz", ".png") and not animated:
        raise UserError(
            f"out={path} must end in .npz or .png (or .gif/.mp4 for mode=interpolate), or name a "
            "directory (no extension)"
        )
    return path


def _draw(out: Path, model, n: int, seed: int, labels, seeds, truncation: float) -> None:
    """mode=samples: n images (from seeds=, else from seed=), streamed into out."""
    from gantrain.metrics.drawing import noise_batches, sample_batches
    from gantrain.record.sample_files import write_stream

    extra = {} if labels is None else {"labels": labels}  # int64 (N,) in .npz output
    if seeds is not None:
        extra["seeds"] = torch.tensor(seeds)
        batches = seeded_batches(model, seeds, labels, truncation)
    elif truncation != 1:
        noise = truncate(torch.cat(list(noise_batches(n, model.latent_dim, seed, 100))), truncation)
        batches = sample_batches(model, n, labels=labels, noise=noise)
    else:
        batches = sample_batches(model, n, seed, labels=labels)
    first = next(batches)  # its shape goes into the .npz header before the rest is drawn
    shape = (n, *first.shape[1:])
    write_stream(out, chain([first], batches), shape, max(1, round(n**0.5)), extra)


def _reconstruct(out: Path, model, data, n: int, seed: int) -> None:
    """mode=reconstruct: n test images and their reconstructions, as out's suffix asks."""
    from gantrain.record.images import interleave_rows

    inputs, recon = reconstructions(model, data, n, seed)
    if out.suffix == ".png":  # rows of inputs above rows of their reconstructions
        write_images(out, interleave_rows(inputs, recon), per_row=8)
    elif out.suffix == ".npz":
        write_images(out, recon, per_row=8, extra={"inputs": inputs})
    else:  # reconstructions named like their inputs in out/inputs
        write_images(out, recon, per_row=8)
        write_images(out / "inputs", inputs, per_row=8)


def schema() -> Schema:
    """gantrain-sample's keys are sample()'s parameters."""
    return Schema({"": (sample,)})


def _sample(keys: dict) -> str:
    keys["class_"] = keys.pop("class")  # a Python keyword: sample() takes it as class_
    return f"wrote {sample(**keys)}"


def main() -> None:
    run("sample", schema(), _sample)


if __name__ == "__main__":
    main()
