"""`gantrain-project`: the latent of a given image (metrics/projection.py), its reconstruction
beside it, the latent as .npz, a walk from it to a random sample, and the distances."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Annotated

import torch
from annotated_types import Ge, Le

from gantrain.cli.arguments import run
from gantrain.cli.runs import load_run
from gantrain.errors import UserError
from gantrain.kinds import (
    ClassName,
    DeviceKind,
    Flag,
    Integer,
    NonNegativeFloat,
    Overrides,
    PathText,
    PositiveFloat,
    PositiveInt,
    Says,
)
from gantrain.record import lock
from gantrain.schema import Schema

log = logging.getLogger("gantrain")
MIN_SIDE = 8  # a smaller image holds too little to project
# the walk's frames are rendered at once and held in memory; the page caps its walks the same way
MAX_WALK_STEPS = 64
WalkSteps = Annotated[
    int, Ge(1), Le(MAX_WALK_STEPS), Says(f"an integer from 1 to {MAX_WALK_STEPS}")
]
SHOWN_PX = 128  # comparison.png and walk.gif are scaled up (nearest) to at least this height
FILES = (
    "target.png",
    "reconstruction.png",
    "comparison.png",
    "latent.npz",
    "walk.gif",
    "distances.json",
)


def check_image(image: str | None) -> Path:
    """The image file, or one line saying what is wrong with it (from its header alone)."""
    from PIL import Image

    from gantrain.data.decode import TooLarge, open_checked

    if image is None:
        raise UserError("give image=PATH, the picture to project (PNG, JPEG, ...)")
    path = Path(image).expanduser()
    if not path.is_file():
        raise UserError(f"image={image} is not a file; give the path of a picture (PNG, JPEG, ...)")
    try:
        with open_checked(path) as img:
            w, h = img.size
    except TooLarge as err:
        raise UserError(
            f"image={image} is too large to read ({err}); give a smaller copy"
        ) from None
    except (OSError, ValueError, Image.UnidentifiedImageError) as err:
        why = " ".join(str(err).split()) or type(err).__name__
        raise UserError(f"image={image} cannot be read as a picture ({why})") from None
    if min(w, h) < MIN_SIDE:
        raise UserError(
            f"image={image} is {w} x {h} pixels; give a picture at least {MIN_SIDE} pixels a "
            "side (its centred square is resized to the model's size)"
        )
    return path


def read_image(path: Path, size: int, channels: int) -> torch.Tensor:
    """uint8 (1, C, size, size): the centred square, as every gantrain reader decodes images."""
    from gantrain.data.decode import decode

    try:
        return decode(path, size, channels)[None]
    except (OSError, ValueError) as err:  # a header that reads, pixels that do not
        raise UserError(f"image={path} cannot be decoded ({' '.join(str(err).split())})") from None


def check_out(out: str | None) -> Path:
    from gantrain.cli.places import check_writable

    if out is None:
        raise UserError("give out=FOLDER for the reconstruction, latent.npz and walk.gif")
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UserError(f"out={out} is an existing file; give a folder (new or existing)")
    check_writable(folder, "out", shown=out)
    return folder


def feature_map(run_, weight: float, device: torch.device):
    """The dataset's feature classifier as a differentiable map, or None (pixels alone)."""
    from gantrain.metrics.classifier import ClassifierRecipe, load_or_train
    from gantrain.metrics.extractors import default_extractor
    from gantrain.metrics.projection import classifier_features

    if not weight:
        return None, "none"
    if default_extractor(run_.dataset) != "classifier":
        log.info("no differentiable feature network for this dataset: projecting by pixels alone")
        return None, "none"
    recipe = (run_.payload.get("config", {}).get("eval") or {}).get("classifier") or {}
    net, _ = load_or_train(run_.data(), ClassifierRecipe(**recipe), device)
    return classifier_features(net), "classifier"


def classes_to_search(run_, wanted) -> list[int] | None:
    from gantrain.commands.sample import class_labels

    if wanted is not None:
        labels = class_labels(run_, wanted, 1)
        assert labels is not None  # checked: a known class of this run
        return [int(labels[0])]
    k = getattr(run_.model, "num_classes", 0)
    return list(range(k)) if k else None


def _shown(images: torch.Tensor, scale: bool = True):
    """(N, C, H, W) in [-1, 1] -> one PIL row (a lone image unpadded), with scale made at least
    SHOWN_PX high (nearest: pixels stay pixels)."""
    from PIL import Image
    from torchvision.utils import make_grid

    from gantrain.record.images import to_pil

    x = ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)
    pic = to_pil(make_grid(x, nrow=len(images), padding=2 if len(images) > 1 else 0))
    k = max(1, math.ceil(SHOWN_PX / pic.height)) if scale else 1
    return pic.resize((pic.width * k, pic.height * k), Image.Resampling.NEAREST)


def write_outputs(folder: Path, target, result, walk_images, fps: int, report: dict) -> None:
    import numpy as np

    from gantrain.record.animation import there_and_back, write_animation
    from gantrain.record.images import save_image_atomic
    from gantrain.record.run_files import atomic, write_json

    folder.mkdir(parents=True, exist_ok=True)
    for name, images in (("target", target), ("reconstruction", result.image)):
        save_image_atomic(_shown(images, scale=False), folder / f"{name}.png")
    save_image_atomic(_shown(torch.cat([target, result.image])), folder / "comparison.png")
    arrays = {"z": result.code.cpu().numpy().astype("float32")}
    if result.label is not None:
        arrays["label"] = np.array([result.label], dtype=np.int64)
    with atomic(folder / "latent.npz", "the latent") as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    frames = [_shown(image[None]) for image in walk_images]
    write_animation(there_and_back(frames), folder / "walk.gif", fps)
    write_json(folder / "distances.json", report)


def project_image(
    run_dir: PathText | None = None,
    checkpoint: PathText | None = None,
    image: PathText | None = None,
    out: PathText | None = None,
    starts: PositiveInt = 4,
    steps: PositiveInt = 200,
    lr: PositiveFloat = 0.05,
    feature_weight: NonNegativeFloat = 0.1,
    class_: ClassName | None = None,
    walk_steps: WalkSteps = 24,
    fps: PositiveInt = 12,
    ema: Flag = True,
    seed: Integer = 0,
    device: DeviceKind = "auto",
    dataset: Overrides | None = None,
) -> str:
    """Project image as conf/project.yaml describes each key; returns the one-line report."""
    from gantrain.hardware.device import resolve_device
    from gantrain.metrics.projection import Renderer, project, walk

    folder = check_out(out)
    path = check_image(image)  # before the run is loaded: a mistake answers at once
    # one writer per out=, as per run directory: a second projection into it is refused
    lock.claim(folder, "wait for it to finish or give another out=")
    run_ = load_run(run_dir, checkpoint, ema, dataset or {}, resolve_device(device))
    model = run_.model
    size, channels = int(run_.dataset["image_size"]), int(run_.dataset["channels"])
    dev = next(model.parameters()).device
    target = read_image(path, size, channels).to(dev).float().div(127.5).sub(1.0)
    classes = classes_to_search(run_, class_)
    features, feature_name = feature_map(run_, feature_weight, dev)
    log.info(
        "projecting %s: %d starts x %d steps%s",
        image,
        starts,
        steps,
        f" x {len(classes)} classes" if classes and len(classes) > 1 else "",
    )
    result = project(model, target, features, classes, starts, steps, lr, feature_weight, seed)
    g = torch.Generator().manual_seed(seed)
    other = model.latent_for(torch.randn(1, model.latent_dim, generator=g).to(dev))
    labels = None if result.label is None else torch.full((walk_steps,), result.label, device=dev)
    with torch.no_grad():
        walk_images = Renderer(model, seed + 1)(walk(result.code, other, walk_steps), labels)
    report = {
        "image": str(image),
        "checkpoint": str(run_.checkpoint),
        "weights": run_.weights,
        "pixel_mse": result.pixel_mse,
        "feature_distance": None
        if math.isnan(result.feature_distance)
        else result.feature_distance,
        "features": feature_name,
        "class": result.label,
        "starts": starts,
        "steps": steps,
        "lr": lr,
        "feature_weight": feature_weight,
        "seed": seed,
        "start_losses": result.start_losses,
    }
    write_outputs(folder, target, result, walk_images, fps, report)
    lock.release(folder)
    said = f"pixel MSE {result.pixel_mse:.4g}"
    if report["feature_distance"] is not None:
        said += f", feature distance {result.feature_distance:.4g}"
    if result.label is not None:
        said += f", class {result.label}"
    return f"{image}: {said}; wrote {folder}/ ({', '.join(FILES)})"


def schema() -> Schema:
    """gantrain-project's keys are project_image()'s parameters."""
    return Schema({"": (project_image,)})


def _project(keys: dict) -> str:
    keys["class_"] = keys.pop("class")  # a Python keyword: project_image() takes it as class_
    return project_image(**keys)


def main() -> None:
    run("project", schema(), _project)


if __name__ == "__main__":
    main()
