"""The latent of a given image: the code z whose decoding is nearest to it.

GAN inversion by optimisation (Creswell & Bharath 2016; Abdal et al. 2019 for the pixel +
perceptual loss; StyleGAN2's projector for several starts): Adam on z, from several starts at
once, minimising pixel MSE + feature_weight * the relative squared distance of the dataset's own
feature network's features. An AE/VAE starts from its encoder's code (the posterior mean) and
refines it the same way. Conditional models search every class unless one is given.

Codes are what model.decode takes; sampling draws them as latent_for(noise). Where the model
samples with batch statistics (sample_norm=batch) a decoding depends on its batch, so every
rendering shares its batch with a fixed context of prior draws: a sampled batch's statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

CONTEXT = 63  # prior draws that share a batch-statistics model's batch: 64 with the image


@dataclass
class Projection:
    code: torch.Tensor  # (1, latent) the best start's code
    label: int | None  # its class, for a conditional model
    image: torch.Tensor  # (1, C, H, W) in [-1, 1], its decoding
    pixel_mse: float  # mean over pixels, images in [-1, 1]
    feature_distance: float  # relative squared feature distance; nan without a feature network
    start_losses: list[float]  # each start's final loss (and class, where searched)


class Renderer:
    """Codes -> images, differentiably, as sampling draws them (the norm layers included)."""

    def __init__(self, model, seed: int = 0):
        self.model = model
        device = next(model.parameters()).device
        self.context: torch.Tensor | None = None
        self.context_labels: torch.Tensor | None = None
        if model.sample_norm == "batch":
            g = torch.Generator().manual_seed(seed)
            noise = torch.randn(CONTEXT, model.latent_dim, generator=g).to(device)
            with torch.no_grad():
                self.context = model.latent_for(noise)
            self.context_labels = model.sample_labels(CONTEXT)

    def __call__(self, codes: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        n = codes.shape[0]
        if self.context is not None:
            codes = torch.cat([codes, self.context])  # (n + CONTEXT, latent)
            if labels is not None and self.context_labels is not None:
                labels = torch.cat([labels, self.context_labels])
        with self.model.sampling_norms():
            return self.model.decode(codes, labels)[:n]


def _freeze(model) -> list[torch.nn.Parameter]:
    """Only the latent learns; the weights stay as they are (and their grads unset)."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    return params


def starting_codes(
    model,
    target: torch.Tensor,
    labels: torch.Tensor | None,
    starts: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """(len(labels) or 1) * starts codes: prior draws; an encoder's code as each class's first."""
    device = target.device
    groups = 1 if labels is None else labels.shape[0] // starts
    noise = torch.randn(groups * starts, model.latent_dim, generator=generator).to(device)
    with torch.no_grad():
        codes = model.latent_for(noise)
        if "encode" in model.provides:
            first = torch.arange(groups, device=device) * starts  # each class's first start
            y = None if labels is None else labels[first]
            encoded, stats = model.encode(target.expand(groups, -1, -1, -1), y)
            codes[first] = stats.get("mu", encoded)
    return codes


def project(
    model,
    target: torch.Tensor,
    features=None,
    classes: list[int] | None = None,
    starts: int = 4,
    steps: int = 200,
    lr: float = 0.05,
    feature_weight: float = 0.1,
    seed: int = 0,
) -> Projection:
    """target: (1, C, H, W) in [-1, 1] on the model's device. features: images in [-1, 1] ->
    (B, F), differentiable, or None. classes: the classes to search (a conditional model)."""
    device = target.device
    labels = None
    if classes is not None:  # every start of every class: (K * starts,)
        labels = torch.tensor(classes, device=device).repeat_interleave(starts)
    generator = torch.Generator().manual_seed(seed)
    frozen = _freeze(model)
    try:
        render = Renderer(model, seed + 1)
        codes = starting_codes(model, target, labels, starts, generator).requires_grad_(True)
        goal = None if features is None else features(target).detach()
        opt = torch.optim.Adam([codes], lr=lr)
        for _ in range(steps):
            losses = _losses(render(codes, labels), target, features, goal, feature_weight)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()  # the starts are independent: each its own loss
            opt.step()
        with torch.no_grad():
            losses = _losses(render(codes, labels), target, features, goal, feature_weight)
            best = int(losses.argmin())
            code = codes[best : best + 1].detach()
            label = None if labels is None else labels[best : best + 1]
            image = render(code, label)
            pixel = float((image - target).pow(2).mean())
            feat = float("nan") if goal is None else float(feature_distance(features(image), goal))
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return Projection(
        code, None if label is None else int(label), image, pixel, feat, [float(v) for v in losses]
    )


def _losses(images, target, features, goal, feature_weight: float) -> torch.Tensor:
    """(B,) pixel MSE + feature_weight * the relative feature distance, per image."""
    loss = (images - target).pow(2).flatten(1).mean(1)
    if features is not None and feature_weight:
        loss = loss + feature_weight * feature_distance(features(images), goal)
    return loss


def feature_distance(feats: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """(B,) ||f - g||^2 / ||g||^2: relative, so its scale is the network's no more (0 for the
    same features, about 1 and up for unrelated ones)."""
    return (feats - goal).pow(2).sum(1) / goal.pow(2).sum(1).clamp_min(1e-12)


def walk(code: torch.Tensor, other: torch.Tensor, steps: int) -> torch.Tensor:
    """(steps, latent): the straight path from code to other, both ends included."""
    t = torch.linspace(0, 1, steps, device=code.device)[:, None]
    return code + t * (other - code)


def classifier_features(net) -> Callable[[torch.Tensor], torch.Tensor]:
    """The dataset's feature classifier as a differentiable map: images in [-1, 1] -> (B, 128)."""
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return lambda images: net.body(images)
