"""Drawing by seed, as gantrain-sample's seeds= and gantrain-serve's page do: each image from
its own seed's latent (models/latent.py states the rule), its class chosen or seed mod K."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import torch

from gantrain.errors import UserError
from gantrain.models.latent import (
    SEED_RULE,
    fixed_statistics,
    interpolate_latents,
    labels_for_seeds,
    latents_for_seeds,
)


def class_labels(run, wanted: int | str | None, n: int) -> torch.Tensor | None:
    """The class of each of n samples: all `wanted` (an index or a class name), or, for a
    conditional run asked for none, the classes in turn; None for an unconditional run."""
    k = getattr(run.model, "num_classes", 0)
    if wanted is None:
        return None if not k else torch.arange(n) % k
    if not k:
        raise UserError(
            f"class={wanted}: this run is unconditional (trained without conditional=true), so "
            "it cannot draw a chosen class; leave class out"
        )
    names = [str(c) for c in run.payload.get("classes") or range(k)]
    shown = ", ".join(f"{i}={c}" for i, c in enumerate(names[:12])) + (", ..." if k > 12 else "")
    if isinstance(wanted, str):
        if wanted not in names:
            raise UserError(f"class={wanted} is not one of this run's classes: {shown}")
        wanted = names.index(wanted)
    elif str(wanted) in names and names.index(str(wanted)) != wanted:
        raise UserError(
            f"class={wanted} is ambiguous: index {wanted} is the class named "
            f"{names[wanted] if 0 <= wanted < k else 'nothing'}, and the class named {wanted} is "
            f"index {names.index(str(wanted))}; give class='{wanted}' for the name or "
            f"class={names.index(str(wanted))} for its index"
        )
    if not 0 <= wanted < k:
        raise UserError(f"class={wanted}: this run has {k} classes, 0..{k - 1} ({shown})")
    return torch.full((n,), wanted, dtype=torch.long)


def seed_labels(run, wanted: int | str | None, seeds: list[int]) -> torch.Tensor | None:
    """Each seed's class: `wanted` for all, or, for a conditional run asked for none, seed mod K
    (so a seed's image is the same in any list); None for an unconditional run."""
    if wanted is not None:
        return class_labels(run, wanted, len(seeds))
    return labels_for_seeds(seeds, getattr(run.model, "num_classes", 0))


@torch.no_grad()
def seeded_batches(
    model, seeds: list[int], labels: torch.Tensor | None, truncation: float = 1.0, batch: int = 100
) -> Iterator[torch.Tensor]:
    """uint8 (<= batch, C, H, W) images of the seeds in order, batch by batch; model is
    latent.fixed_statistics' (norm statistics that do not depend on the batch)."""
    from gantrain.metrics.drawing import to_uint8

    device = next(model.parameters()).device
    for start in range(0, len(seeds), batch):
        z = latents_for_seeds(seeds[start : start + batch], model.latent_dim, device, truncation)
        y = None if labels is None else labels[start : start + batch].to(device)
        yield to_uint8(model.sample_from_noise(z, y))


def seeded_images(
    model, seeds: list[int], labels: torch.Tensor | None, truncation: float = 1.0
) -> torch.Tensor:
    """uint8 (len(seeds), C, H, W): seeded_batches' images at once."""
    return torch.cat(list(seeded_batches(model, seeds, labels, truncation)))


@torch.no_grad()
def seeded_walk(
    model, a: int, b: int, steps: int, label: torch.Tensor | None, truncation: float = 1.0
) -> torch.Tensor:
    """uint8 (steps, C, H, W): the spherical path from seed a's latent to seed b's, ends
    included (the ends are the seeds' own images); label (1,) holds the path's class."""
    from gantrain.metrics.drawing import to_uint8

    device = next(model.parameters()).device
    ends = latents_for_seeds([a, b], model.latent_dim, "cpu", truncation)
    path = interpolate_latents(ends[0], ends[1], steps).to(device)  # (steps, latent)
    y = None if label is None else label.to(device).expand(steps)
    return to_uint8(model.sample_from_noise(path, y))


class Drawer:
    """The run's model with its fixed statistics, drawn from one request at a time (the nets
    are shared; a lock keeps two requests' batches from interleaving on the device)."""

    def __init__(self, run):
        self.run, self.model = run, fixed_statistics(run.model)
        self.lock = threading.Lock()

    def seeds(self, seeds: list[int], wanted, truncation: float) -> torch.Tensor:
        labels = seed_labels(self.run, wanted, seeds)
        with self.lock:
            return seeded_images(self.model, seeds, labels, truncation)

    def walk(self, a: int, b: int, steps: int, wanted, truncation: float) -> torch.Tensor:
        label = seed_labels(self.run, wanted, [a])
        with self.lock:
            return seeded_walk(self.model, a, b, steps, label, truncation)

    def info(self) -> dict:
        model, config = self.run.model, self.run.payload["config"]["model"]
        k = getattr(model, "num_classes", 0)
        return {
            "checkpoint": str(self.run.checkpoint),
            "round": self.run.payload.get("round"),
            "model": type(model).__name__,
            "weights": self.run.weights,
            "latent_dim": model.latent_dim,
            "image_size": config["image_size"],
            "channels": config["channels"],
            "classes": [str(c) for c in self.run.payload.get("classes") or range(k)] if k else [],
            "seed_rule": SEED_RULE,
        }
