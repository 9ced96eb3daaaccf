"""How well a conditional model draws the class it is asked for: label accuracy (the share of
samples the classifier assigns to the class they were drawn for) and intra-FID (Miyato & Koyama
2018: FID within each class, averaged over the classes)."""

from __future__ import annotations

import torch
from torchmetrics.image.fid import _compute_fid


def gaussian(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (D,), covariance (D, D)) of features (N, D), in float64."""
    f = features.double()
    mean = f.mean(0)
    centred = f - mean
    return mean, centred.T @ centred / max(f.shape[0] - 1, 1)


def per_class_stats(features: torch.Tensor, labels: torch.Tensor) -> dict[int, tuple]:
    """class -> (mean, covariance) of the reference features of that class (two images at least)."""
    labels = labels.cpu()
    return {
        int(c): gaussian(features[labels == c])
        for c in labels.unique()
        if int((labels == c).sum()) >= 2
    }


def label_scores(
    features: torch.Tensor,
    probs: torch.Tensor | None,
    labels: torch.Tensor,
    reference: dict[int, tuple],
) -> dict:
    """label_accuracy where the extractor classifies; intra_fid over the classes that have two
    samples or more and reference statistics."""
    out: dict = {}
    if probs is not None and probs.shape[1] > int(labels.max()):
        out["label_accuracy"] = round(float((probs.argmax(1).cpu() == labels).double().mean()), 4)
    fids = []
    for c, (mean, cov) in sorted(reference.items()):
        mine = features[labels == c]
        if mine.shape[0] >= 2:
            fids.append(float(_compute_fid(*gaussian(mine), mean, cov)))
    if fids:
        out["intra_fid"] = sum(fids) / len(fids)
    return out
