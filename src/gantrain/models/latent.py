"""The latent rules that gantrain-sample, gantrain-export's users and gantrain-serve share.

Seed rule: seed s draws its noise from its own CPU generator,
    z = torch.randn(latent_dim, generator=torch.Generator().manual_seed(s))   # float32
and the noise moves to the device afterwards, so a sample depends only on its seed: not on the
device, nor on the other seeds drawn with it. A conditional run asked for no class draws seed s
from class s mod K. The model turns the noise into its code as it always does (latent_for: the
identity for a N(0, I) prior, mean + L z for an autoencoder's fitted Gaussian), so z is the input
of an exported generator too.

Truncation (BigGAN's truncation trick, Brock et al. 2019): psi in (0, 1] keeps the central psi
of each noise entry's probability mass, i.e. entries lie within +-Phi^-1((1 + psi) / 2)
(psi = 0.7: +-1.04; 0.5: +-0.67). BigGAN resamples entries outside the bound; here each entry is
mapped through the normal CDF instead, z -> Phi^-1(1/2 + psi (Phi(z) - 1/2)), which gives the same
truncated normal in distribution, keeps psi = 1 the untouched prior, and moves one seed's image
smoothly toward the mean as psi falls (|z| only shrinks). For an autoencoder's fitted Gaussian the
bound holds in its whitened coordinates: codes stay within the same Mahalanobis box of its mean.

Batch statistics: a model that normalises with the statistics of the sampled batch (DCGAN's
sample_norm=batch) would make each image depend on its batch-mates; for seeded sampling its norm
layers instead use the statistics of one fixed reference batch, seeds 0..REFERENCE_SEEDS-1 at
psi = 1, computed once (fixed_statistics), so the normalisation is that of a large batch drawn
from the model and the same for every seed.
"""

from __future__ import annotations

import copy
import re
from typing import Annotated

import torch
from annotated_types import Gt, Le
from pydantic import AfterValidator
from torch import nn

from gantrain.kinds import Says
from gantrain.models.base import GenerativeModel

# the reference batch whose statistics stand in for a sampled batch's (sample_norm=batch)
REFERENCE_SEEDS = 512
# seeds are the 32-bit unsigned integers other tools (numpy, StyleGAN) take too
MAX_SEED = 2**32 - 1
# seeds one command or request may name: a grid beyond this is no longer one picture
MAX_SEEDS = 100_000
SEED_RULE = (
    "z = torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed)) (float32, CPU); "
    "truncation psi < 1: z = ndtri(0.5 + psi * (ndtr(z) - 0.5)) in float64; "
    "label when none is chosen: seed % num_classes"
)
_PART = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(text: int | str | list) -> list[int]:
    """Seeds in the order given from 5, [3, 17], '3,17', '0-63' or '0-3,17' (ranges include
    both ends); a ValueError names the bad part."""
    if isinstance(text, bool):
        raise ValueError("true/false is not a seed")
    parts = [text] if isinstance(text, int) else list(text) if isinstance(text, list) else None
    if parts is None:
        parts = [p.strip() for p in str(text).strip().strip("[]").split(",")]
    seeds: list[int] = []
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            lo = hi = part
        else:
            found = _PART.match(str(part).strip())
            if found is None:
                raise ValueError(f"{part!r} is not a seed (0, 1, ...) or a range such as 0-63")
            lo, hi = int(found[1]), int(found[2] or found[1])
            if hi < lo:
                raise ValueError(f"the range {part} runs backwards; write {hi}-{lo}")
        if lo < 0 or hi > MAX_SEED:
            raise ValueError(f"{part} is outside the seeds 0..{MAX_SEED}")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise ValueError(f"more than {MAX_SEEDS} seeds; draw them in parts")
        seeds.extend(range(lo, hi + 1))
    if not seeds:
        raise ValueError("no seeds given; e.g. seeds=0-63 or seeds=3,17")
    return seeds


def _checked_seeds(value):
    parse_seeds(value)
    return value


# config kinds: seeds= as the text the user wrote (parsed where used), truncation= as psi
Seeds = Annotated[
    int | str | list[int],
    AfterValidator(_checked_seeds),
    Says("seeds such as 0-63, 3,17 or 0-3,17 (integers 0..4294967295)"),
]
Truncation = Annotated[float, Gt(0), Le(1), Says("a number in (0, 1]: 1 is no truncation")]


def truncate(z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
    """Standard-normal noise (any shape) to the truncated normal within
    +-Phi^-1((1 + truncation) / 2), entry by entry and monotonically; 1.0 returns z itself."""
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation={truncation} must lie in (0, 1]")
    if truncation == 1:
        return z
    u = 0.5 + truncation * (torch.special.ndtr(z.double()) - 0.5)  # in [(1-psi)/2, (1+psi)/2]
    return torch.special.ndtri(u).to(z.dtype)


def truncation_bound(truncation: float) -> float:
    """The largest |entry| of truncated noise: Phi^-1((1 + truncation) / 2) (inf at 1)."""
    return float(torch.special.ndtri(torch.tensor(0.5 + truncation / 2, dtype=torch.float64)))


def latents_for_seeds(
    seeds: list[int],
    latent_dim: int,
    device: torch.device | str = "cpu",
    truncation: float = 1.0,
) -> torch.Tensor:
    """The noise (len(seeds), latent_dim), float32, of each seed by the seed rule: row i is the
    same whatever the other seeds, the device or the count."""
    rows = [torch.randn(latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return truncate(torch.stack(rows), truncation).to(device)


def labels_for_seeds(seeds: list[int], num_classes: int, device="cpu") -> torch.Tensor | None:
    """Each seed's class when none is chosen: seed mod num_classes (None: unconditional)."""
    if not num_classes:
        return None
    return torch.tensor([int(s) % num_classes for s in seeds], device=device)


def interpolate_latents(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation (steps, latent_dim) from noise a to noise b (latent_dim,), ends
    included: every point keeps the norm typical of a Gaussian draw, where the straight line
    passes through low-norm codes."""
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]  # (steps, 1)
    a64, b64 = a.double(), b.double()
    cos = (a64 @ b64 / (a64.norm() * b64.norm())).clamp(-1 + 1e-7, 1 - 1e-7)
    omega = torch.acos(cos)
    path = (torch.sin((1 - t) * omega) * a64 + torch.sin(t * omega) * b64) / torch.sin(omega)
    return path.to(a.dtype)


@torch.no_grad()
def fixed_statistics(model: GenerativeModel) -> GenerativeModel:
    """The model to draw seeded samples from: itself when its norm layers already use running
    statistics (sample_norm=running); otherwise a copy in inference mode whose BatchNorm layers
    hold the statistics of the reference batch (seeds 0..REFERENCE_SEEDS-1, psi = 1, labels
    seed mod K), so no image depends on the others drawn with it."""
    if getattr(model, "sample_norm", "running") != "batch":
        return model
    fixed = copy.deepcopy(model)
    fixed.sample_norm = "running"
    layers = [m for m in fixed.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    found: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(layer, inputs, _output):
        x = inputs[0]
        dims = [d for d in range(x.dim()) if d != 1]  # all but the channels
        found[layer] = (x.mean(dims), x.var(dims, unbiased=False))  # what train mode divides by

    hooks = [m.register_forward_hook(keep) for m in layers]
    momenta = [m.momentum for m in layers]
    try:
        for m in layers:
            m.momentum = 0.0  # the forward below must not fold itself into the running stats
        device = next(model.parameters()).device
        seeds = list(range(REFERENCE_SEEDS))
        z = latents_for_seeds(seeds, model.latent_dim, device)
        labels = labels_for_seeds(seeds, getattr(model, "num_classes", 0), device)
        fixed.train()  # each layer sees the batch-normalised output of the one before, as in training
        fixed.decode(fixed.latent_for(z), labels)
    finally:
        for hook in hooks:
            hook.remove()
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
    for m in layers:
        mean, var = found[m]
        assert m.running_mean is not None and m.running_var is not None  # sample_norm=batch
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)
    return fixed.eval()
