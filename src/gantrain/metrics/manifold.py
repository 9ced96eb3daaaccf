"""Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020):
how much of what a model draws lies on the real data's manifold, and how much of that manifold
its draws reach, each manifold estimated by k-nearest-neighbour balls in the FID feature space.

Precision falls when samples are poor, recall and coverage when modes are missing (a collapsed
model can keep a good precision while its recall drops). Both sets have the same size, as the
papers compare them: a random subset of the reference features, fixed per size, meets the samples.
"""

from __future__ import annotations

import torch

K_PR = 3  # Kynkäänniemi et al.: k = 3
K_DC = 5  # Naeem et al.: k = 5
CHUNK = 1024  # rows of a distance matrix computed at a time: (CHUNK, N) float64, not (N, N)


def _chunks(x: torch.Tensor):
    for i in range(0, x.shape[0], CHUNK):
        yield i, x[i : i + CHUNK]


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, D) -> (N,): each point's distance to its k-th nearest other point of x."""
    k = min(k, x.shape[0] - 1)
    out = torch.empty(x.shape[0], dtype=x.dtype)
    for i, rows in _chunks(x):
        d = torch.cdist(rows, x)  # (chunk, N); each row's own point at distance 0 comes first
        out[i : i + rows.shape[0]] = d.kthvalue(k + 1, dim=1).values
    return out


def manifold_scores(
    real: torch.Tensor, fake: torch.Tensor, real_radii: dict | None = None
) -> dict[str, float]:
    """real (N, D), fake (M, D) features, N, M >= 2 -> precision, recall, density, coverage.

    real_radii: {k: knn_radii(real, k)} for K_PR and K_DC when already computed."""
    real, fake = real.double(), fake.double()
    rr = real_radii or {k: knn_radii(real, k) for k in (K_PR, K_DC)}
    fake_r3 = knn_radii(fake, K_PR)
    in_real = torch.zeros(fake.shape[0], dtype=torch.bool)  # precision: fake inside a real ball
    density = torch.zeros(fake.shape[0], dtype=torch.float64)  # real K_DC-balls holding each fake
    reached = torch.zeros(real.shape[0], dtype=torch.bool)  # recall: real inside a fake ball
    covered = torch.zeros(real.shape[0], dtype=torch.bool)  # coverage: a fake in its K_DC-ball
    for i, rows in _chunks(real):
        d = torch.cdist(rows, fake)  # (chunk, M)
        sl = slice(i, i + rows.shape[0])
        in_real |= (d <= rr[K_PR][sl, None]).any(0)
        density += (d <= rr[K_DC][sl, None]).sum(0)
        reached[sl] = (d <= fake_r3[None, :]).any(1)
        covered[sl] = d.min(1).values <= rr[K_DC][sl]
    return {
        "precision": float(in_real.double().mean()),
        "recall": float(reached.double().mean()),
        "density": float(density.sum() / (K_DC * fake.shape[0])),
        "coverage": float(covered.double().mean()),
    }


class Manifold:
    """The reference features, and their k-NN radii per subset size (computed once each)."""

    def __init__(self, real: torch.Tensor, seed: int = 0):
        self.real = real.double()
        self.order = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(seed))
        self._radii: dict[int, tuple[torch.Tensor, dict]] = {}

    def scores(self, fake: torch.Tensor) -> dict[str, float]:
        """fake (M, D) -> precision, recall, density, coverage against min(M, N) reference points."""
        n = min(fake.shape[0], self.real.shape[0])
        if n not in self._radii:
            subset = self.real[self.order[:n]]
            self._radii[n] = (subset, {k: knn_radii(subset, k) for k in (K_PR, K_DC)})
        subset, radii = self._radii[n]
        return manifold_scores(subset, fake, radii)
