"""Precision/recall and density/coverage against closed cases."""

from __future__ import annotations

import pytest
import torch
from data_files import digit_like

from gantrain.metrics import Scorer
from gantrain.metrics.manifold import Manifold, knn_radii, manifold_scores


def clusters(per: int, classes: list[int], seed: int = 0) -> torch.Tensor:
    """per points around each of ten well-separated centres in 8-D, only those in classes."""
    g = torch.Generator().manual_seed(seed)
    centres = 20 * torch.eye(10, 8, dtype=torch.float64)
    centres[8:, :2] = 20  # ten centres, each at least 20 from the others
    return torch.cat(
        [centres[c] + torch.randn(per, 8, generator=g, dtype=torch.float64) for c in classes]
    )


def test_radii_are_distances_to_the_kth_other_point():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_samples_equal_to_the_reference_score_one():
    real = clusters(50, list(range(10)))
    s = manifold_scores(real, real.clone())
    assert s["precision"] == s["recall"] == s["coverage"] == 1.0
    # each sample sits in its own ball and, on average, in k others': (k + 1) / k
    assert s["density"] == pytest.approx(1.2, abs=0.05)


def test_samples_of_one_class_have_precision_but_little_recall_and_coverage():
    real = clusters(50, list(range(10)))
    s = manifold_scores(real, clusters(500, [0], seed=1))
    assert s["precision"] > 0.7 and s["density"] > 0.5
    assert s["recall"] == pytest.approx(0.1, abs=0.02)
    assert s["coverage"] == pytest.approx(0.1, abs=0.02)


def test_samples_off_the_manifold_score_zero_precision_and_density():
    real = clusters(50, list(range(10)))
    s = manifold_scores(real, real + 100.0)
    assert s["precision"] == s["density"] == s["coverage"] == 0.0


def test_reference_subset_matches_the_sample_count_and_is_fixed():
    real = clusters(30, list(range(10)))
    m = Manifold(real, seed=0)
    fake = clusters(10, list(range(10)), seed=2)
    first = m.scores(fake)
    assert list(m._radii) == [100] and m.scores(fake) == first
    assert Manifold(real, seed=0).scores(fake) == first


class Pooled:
    name = "pooled"
    info = {"name": "pooled"}

    def __call__(self, images):
        return torch.nn.functional.adaptive_avg_pool2d(images.double(), 7).flatten(1), None


def test_scorer_reports_them_for_images():
    images, labels = digit_like(400, seed=5)
    real = torch.from_numpy(images).unsqueeze(1)
    scorer = Scorer(Pooled(), real, kid_subsets=5)
    same = scorer.score_images(real)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    zeros = torch.from_numpy(labels == 0)
    one = scorer.score_images(real[zeros])
    mixed = scorer.score_images(real[-int(zeros.sum()) :])  # as many samples, every class
    assert one["recall"] < 0.3 and one["precision"] > 0.8
    assert one["coverage"] < 0.5 and mixed["coverage"] > one["coverage"] + 0.3
