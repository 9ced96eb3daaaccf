"""Label accuracy and intra-FID on cases whose answer is known."""

from __future__ import annotations

import torch

from gantrain.metrics.conditional import label_scores, per_class_stats


def _features(labels: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(labels), 4, generator=g, dtype=torch.float64) + 5 * labels[:, None]


def test_samples_drawn_as_the_reference_score_perfectly():
    labels = torch.arange(300) % 3
    reference = _features(labels, 0)
    probs = torch.nn.functional.one_hot(labels, 3).double()
    out = label_scores(reference, probs, labels, per_class_stats(reference, labels))
    assert out["label_accuracy"] == 1.0 and abs(out["intra_fid"]) < 1e-6


def test_wrong_classes_lower_accuracy_and_raise_intra_fid():
    labels = torch.arange(300) % 3
    reference = per_class_stats(_features(labels, 0), labels)
    asked = (labels + 1) % 3  # every sample drawn for the next class, looking like its own
    probs = torch.nn.functional.one_hot(labels, 3).double()
    out = label_scores(_features(labels, 1), probs, asked, reference)
    assert out["label_accuracy"] == 0.0 and out["intra_fid"] > 20
    half = torch.where(torch.arange(300) % 2 == 0, labels, asked)
    assert label_scores(_features(labels, 1), probs, half, reference)["label_accuracy"] == 0.5


def test_no_probabilities_no_accuracy():
    labels = torch.arange(20) % 2
    out = label_scores(
        _features(labels, 0), None, labels, per_class_stats(_features(labels, 1), labels)
    )
    assert "label_accuracy" not in out and "intra_fid" in out
