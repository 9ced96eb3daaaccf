"""What every model offers the trainer and the objectives.

A model says what it can do in `provides`; an objective says what it needs in `requires`.
  generate        decode(z) from the prior: every model
  encode          encode(x) -> (code, stats) and a reconstruction likelihood: AE, VAE
  posterior       encode's stats hold a Gaussian posterior (mu, logvar) with a KL to the prior: VAE

A conditional model (num_classes > 0) takes each image's class label, int64 (B,), beside its
noise or code; every method's `labels` is None for an unconditional one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Literal, cast

import torch
from torch import nn

from gantrain.kinds import NOT_A_FLAG

SampleNorm = Annotated[Literal["running", "batch"], NOT_A_FLAG]


class GenerativeModel(nn.Module):
    provides: frozenset[str] = frozenset({"generate"})
    latent_dim: int
    # how BatchNorm normalises when sampling: "running" (its running averages, inference mode) or
    # "batch" (the statistics of the sampled batch itself, as the generator always sees in
    # training; the running averages are left untouched)
    sample_norm: str = "running"
    num_classes: int = 0  # > 0: conditional, a label per sample

    def sample_labels(self, n: int) -> torch.Tensor | None:
        """Labels cycling through the classes (0, 1, ..., K-1, 0, ...): balanced samples."""
        if not self.num_classes:
            return None
        device = next(self.parameters()).device
        return torch.arange(n, device=device) % self.num_classes

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard-normal draws (n, latent_dim) on the model's device. In training across
        several processes (draw_share = (rank, world)), which share one random state, each
        takes its rank's share of one draw for all of them, so no two ranks repeat a noise."""
        device = next(self.parameters()).device
        rank, world = getattr(self, "draw_share", (0, 1)) if generator is None else (0, 1)
        z = torch.randn(n * world, self.latent_dim, generator=generator, device=device)
        return z[rank * n : (rank + 1) * n]

    def decode_raw(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(B, latent) -> pre-tanh image (B, C, H, W); tanh of it is the image in [-1, 1]."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.decode_raw(z, labels))

    def latent_for(self, noise: torch.Tensor) -> torch.Tensor:
        """Map standard-normal noise (B, latent) to the codes sampling decodes; identity here."""
        return noise

    @torch.no_grad()
    def sample_from_noise(
        self, noise: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Images in [-1, 1] for fixed noise (and labels); norm layers as sample_norm says."""
        with self.sampling_norms():
            return self.decode(self.latent_for(noise), labels)

    @contextmanager
    def sampling_norms(self):
        """Norm layers as sample_norm says while inside (also where gradients flow, as for a
        projection's latent)."""
        was_training = self.training
        batch = self.sample_norm == "batch"
        # with batch statistics, the norm layers must not fold the samples into their averages
        frozen = [
            m for m in self.modules() if batch and isinstance(m, nn.modules.batchnorm._BatchNorm)
        ]
        kept = [(m.momentum, cast(torch.Tensor, m.num_batches_tracked).clone()) for m in frozen]
        self.train(batch)
        try:
            for m in frozen:
                m.momentum = 0.0
            yield
        finally:
            for m, (momentum, tracked) in zip(frozen, kept):
                m.momentum = momentum
                cast(torch.Tensor, m.num_batches_tracked).copy_(tracked)
            self.train(was_training)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_from_noise(self.prior(n, generator), self.sample_labels(n))

    def refresh_prior(self, codes: torch.Tensor) -> None:
        """Called at milestones with codes of training data; models with a fitted prior refit."""

    def encode(
        self, x: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError(f"{type(self).__name__} cannot encode")
