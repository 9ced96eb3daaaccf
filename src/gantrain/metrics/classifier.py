"""A small CNN trained once on a dataset's labelled training split, cached beside the data.

Its penultimate layer is the feature space for FID/KID on digits, where ImageNet's InceptionV3
sees little and needs weights a machine without network cannot fetch. The cache file is named
by a hash of the training and test images and labels and the training settings (rebuilt when
any of them change, reused otherwise) and by a hash of the weights it holds: two classifiers
that differ in any weight never share a name, and every score carries the weights' hash.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from gantrain.errors import UserError
from gantrain.files import temp_beside
from gantrain.kinds import NOT_A_FLAG, Integer, NonNegativeFloat, PositiveFloat, PositiveInt
from gantrain.metrics.data import as_dict, content_hash, describe, labelled_split
from gantrain.metrics.plain_net import PlainClassifier
from gantrain.metrics.progress import Progress

log = logging.getLogger("gantrain")

VERSION = 2  # bump when the architecture or training recipe changes: old caches are ignored
FEATURES = 128


@dataclass(frozen=True)
class ClassifierRecipe:
    """How the feature classifier trains (eval.classifier.*); a change trains another."""

    steps: PositiveInt = 1000
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 3e-3
    width: PositiveInt = 16
    seed: Integer = 0
    # cnn: DigitClassifier (batch norm, max pooling); plain: metrics/plain_net.py's PlainClassifier
    arch: Annotated[Literal["cnn", "plain"], NOT_A_FLAG] = "cnn"
    # random rotations of up to this many degrees, beside the shifts every recipe trains with
    rotate: NonNegativeFloat = 0.0


class DigitClassifier(nn.Module):
    """uint8 (B, C, H, W) -> (features (B, 128), logits (B, classes)); any size from 8 px."""

    def __init__(self, channels: int, num_classes: int, width: int = 16):
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        w = width
        self.body = nn.Sequential(
            *block(channels, w),
            nn.MaxPool2d(2),  # (B, w, H/2, W/2)
            *block(w, 2 * w),
            nn.MaxPool2d(2),  # (B, 2w, H/4, W/4)
            *block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(3),
            nn.Flatten(),  # (B, 36w)
            nn.Linear(36 * w, FEATURES),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype == torch.uint8:
            x = x.float().div(127.5).sub(1.0)
        features = self.body(x)
        return features, self.head(self.dropout(features))


def _shift(x: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random translations by up to `pad` pixels: the cheap augmentation that lets a few
    thousand digits generalise."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, n), generator=generator)).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    index = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[index, chans, rows, cols]  # (B, C, H, W)


def rotate(x: torch.Tensor, generator: torch.Generator, degrees: float) -> torch.Tensor:
    """Random rotations by up to `degrees` about the centre; the corners filled with background."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros(n)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    # grid_sample pads with 0: shift the background (-1) to 0 and back
    return F.grid_sample(x + 1, grid, align_corners=False) - 1  # (B, C, H, W)


def build(arch: str, channels: int, num_classes: int, width: int) -> nn.Module:
    """The named architecture; both map uint8 or [-1, 1] images to (features, logits)."""
    if arch == "plain":
        return PlainClassifier(channels, num_classes, width)
    return DigitClassifier(channels, num_classes, width)


def weights_hash(state: dict) -> str:
    """The first 12 hex digits of a sha256 over the state dict's names, shapes, dtypes and bytes."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name} {tuple(t.shape)} {t.dtype};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:12]


def train_classifier(
    images: torch.Tensor, labels: torch.Tensor, recipe: ClassifierRecipe, device: torch.device
) -> nn.Module:
    """Adam with a one-cycle schedule for recipe.steps minibatches of shifted images."""
    num_classes = int(labels.max()) + 1
    forked = [device] if device.type == "cuda" else []
    # weight init and dropout draw from the global RNG: fork it so the caller's stream is untouched
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(recipe.seed)
        net = build(recipe.arch, images.shape[1], num_classes, recipe.width).to(device)
        g = torch.Generator().manual_seed(recipe.seed)
        opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=recipe.steps)
        net.train()
        progress = Progress(recipe.steps)
        for step in range(1, recipe.steps + 1):
            idx = torch.randint(0, images.shape[0], (recipe.batch_size,), generator=g)
            x = _shift(images[idx].to(device).float().div(127.5).sub(1.0), g)
            if recipe.rotate:
                x = rotate(x, g, recipe.rotate)
            loss = F.cross_entropy(net(x)[1], labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            progress.step(step, loss.detach())
    return net.eval()


@torch.no_grad()
def predict(net: nn.Module, images: torch.Tensor, batch: int = 100):
    """(features (N, 128) float32, probabilities (N, classes)) on the net's device."""
    net.eval()
    device = next(net.parameters()).device
    feats, probs = [], []
    for i in range(0, images.shape[0], batch):
        f, logits = net(images[i : i + batch].to(device))
        feats.append(f)
        probs.append(logits.softmax(1))
    return torch.cat(feats), torch.cat(probs)


def cache_dir(root: str | Path | None) -> Path:
    """ROOT/.gantrain beside the data; the user's cache for data without a root (scikit-learn's
    digits) or in a read-only directory."""
    if root is not None:
        here = Path(root).expanduser().resolve() / ".gantrain"
        try:
            here.mkdir(parents=True, exist_ok=True)
            if os.access(here, os.W_OK):
                return here
        except OSError:
            pass
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    fallback = base / "gantrain"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def _save_atomic(payload: dict, path: Path) -> None:
    # a unique temp name: two processes may build the same classifier at once
    fd, tmp = temp_beside(path)
    with os.fdopen(fd, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _from_payload(payload: dict, device: torch.device) -> nn.Module:
    recipe = payload["recipe"]
    net = build(recipe["arch"], payload["channels"], payload["num_classes"], recipe["width"])
    net.load_state_dict(payload["state"])
    return net.to(device).eval()


def _cached(folder: Path, name: str, device: torch.device):
    """(net, payload, path) of the cache file whose weights hash to its name, or None."""
    for path in sorted(folder.glob(f"{name}-w*.pt")):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if weights_hash(payload["state"]) == path.stem.rsplit("-w", 1)[1]:
                return _from_payload(payload, device), payload, path
            log.warning(
                "classifier cache %s holds other weights than its name says; retraining", path
            )
        except Exception as err:  # a damaged cache is rebuilt, not fatal; torch's text
            # advises loading with weights_only off, so only the kind of failure is shown
            log.warning("classifier cache %s unreadable (%s); retraining", path, type(err).__name__)
    return None


def load_or_train(
    dataset_cfg, recipe: ClassifierRecipe | None = None, device: torch.device | str = "cpu"
) -> tuple[nn.Module, dict]:
    """The dataset's classifier from the cache, trained first if the cache has none.

    Returns (net on device, info): info has file, test_accuracy, trained (True when this call
    trained it), num_classes and the recipe.
    """
    recipe = recipe or ClassifierRecipe()
    if recipe.steps < 1 or recipe.batch_size < 1:
        raise UserError(f"classifier steps and batch_size must be positive, got {recipe}")
    device = torch.device(device)
    cfg = as_dict(dataset_cfg)
    train_x, train_y = labelled_split(cfg, train=True)
    test_x, test_y = labelled_split(cfg, train=False)
    key = content_hash(train_x, train_y, test_x, test_y, extra=f"v{VERSION} {asdict(recipe)}")
    prefix = "classifier" if recipe.arch == "cnn" else f"classifier_{recipe.arch}"
    stem = f"{prefix}-{describe(cfg)}-{train_x.shape[-1]}px-{train_x.shape[1]}ch"
    folder = cache_dir(cfg.get("root"))
    found = _cached(folder, f"{stem}-{key}", device)
    if found is not None:
        net, payload, path = found
        return net, _info(payload, path, trained=False)

    t0 = time.perf_counter()
    log.info("training the %s feature classifier (%d steps; once, then cached)", stem, recipe.steps)
    net = train_classifier(train_x, train_y, recipe, device)
    accuracy = float((predict(net, test_x)[1].argmax(1).cpu() == test_y).float().mean())
    payload = {
        "version": VERSION,
        "state": {k: v.cpu() for k, v in net.state_dict().items()},
        "channels": int(train_x.shape[1]),
        "num_classes": int(train_y.max()) + 1,
        "recipe": asdict(recipe),
        "test_accuracy": accuracy,
        "train_images": int(train_x.shape[0]),
        "test_images": int(test_x.shape[0]),
        "train_s": round(time.perf_counter() - t0, 2),
    }
    path = folder / f"{stem}-{key}-w{weights_hash(payload['state'])}.pt"
    _save_atomic(payload, path)
    for stale in folder.glob(f"{stem}-*.pt"):  # same dataset and shape, older data or recipe
        if stale != path:
            stale.unlink(missing_ok=True)
    log.info(
        "classifier: %.2f%% held-out accuracy, %.1f s; cached in %s",
        100 * accuracy,
        payload["train_s"],
        path,
    )
    return net, _info(payload, path, trained=True)


def _info(payload: dict, path: Path, trained: bool) -> dict:
    return {
        "file": str(path),
        "weights_sha256": path.stem.rsplit("-w", 1)[1],
        "test_accuracy": round(float(payload["test_accuracy"]), 5),
        "test_images": int(payload["test_images"]),
        "train_images": int(payload["train_images"]),
        "num_classes": int(payload["num_classes"]),
        "recipe": dict(payload["recipe"]),
        "trained": trained,
    }
