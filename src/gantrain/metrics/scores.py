"""FID and KID through torchmetrics, precision/recall and density/coverage in the same feature
space, with mode coverage from the classifier's predictions; for a conditional model's samples,
label accuracy and intra-FID (the mean of per-class FIDs).

Each image passes through the feature extractor once; torchmetrics receives the features
(through an identity "network") and does the statistics in float64. The reference features
are computed once per Scorer, so scoring a model again during training costs only its samples.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from gantrain.errors import UserError
from gantrain.metrics import classifier as clf
from gantrain.metrics.conditional import label_scores, per_class_stats
from gantrain.metrics.data import describe, reference_images, reference_labels
from gantrain.metrics.drawing import sample_uint8
from gantrain.metrics.extractors import default_extractor, make_extractor, make_judges
from gantrain.metrics.fetch import READ_TIMEOUT_S
from gantrain.metrics.judges import agreement, confidence, disagreements
from gantrain.metrics.manifold import Manifold
from gantrain.metrics.modes import mode_scores

PRESENT = 0.05  # a class counts as present when at least this share of samples falls in it


class _Given(nn.Module):
    """Identity 'feature network': the features arrive already extracted."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def class_stats(probs: torch.Tensor) -> dict:
    """Predicted-class histogram (shares summing to 1), classes present, mean confidence."""
    k = probs.shape[1]
    counts = torch.bincount(probs.argmax(1), minlength=k).double()
    shares = counts / counts.sum()
    return {
        "classes_present": int((shares >= PRESENT).sum()),
        "num_classes": k,
        "class_histogram": [round(float(s), 4) for s in shares],
        "mean_confidence": round(float(probs.max(1).values.double().mean()), 4),
    }


def _read(extractor, images: torch.Tensor):
    """(features, probabilities or None, per-channel digit probabilities or None)."""
    if hasattr(extractor, "read"):
        return extractor.read(images)
    return (*extractor(images), None)


def _fid_against(features: torch.Tensor) -> FrechetInceptionDistance:
    """A FID metric holding `features` (N, D) as its reference statistics."""
    fid = FrechetInceptionDistance(feature=_Given(features.shape[1]), reset_real_features=False)
    fid.update(features, real=True)
    return fid


def _spread(features: torch.Tensor) -> float:
    """The total variance of features (N, D): the trace of their covariance."""
    return float(torch.cov(features.T.double()).trace())


class Scorer:
    """FID/KID of image sets (or of a model's samples) against fixed reference images; with a
    second judge (judge2, an independent classifier), its FID, modes and confidence beside."""

    def __init__(
        self,
        extractor,
        real: torch.Tensor,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        seed: int = 0,
        real_labels: torch.Tensor | None = None,
        judge2=None,
    ):
        if real.dtype != torch.uint8 or real.dim() != 4 or real.shape[0] < 2:
            raise UserError("the reference set must hold at least 2 images (uint8 N, C, H, W)")
        self.extractor = extractor
        self.seed = seed
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.real_shape = tuple(real.shape[1:])
        features, _, digits = _read(extractor, real)  # (N, D) float64
        self.num_real = features.shape[0]
        self.fid = _fid_against(features)
        with warnings.catch_warnings():  # KID warns that it keeps all features: intended
            warnings.simplefilter("ignore")
            self.kid = KernelInceptionDistance(
                feature=_Given(features.shape[1]),
                subsets=kid_subsets,
                subset_size=kid_subset_size,
                reset_real_features=False,
            )
        self.kid.update(features, real=True)
        # per-class reference statistics (mean, covariance) for intra-FID
        self.by_class = {} if real_labels is None else per_class_stats(features, real_labels)
        self.manifold = Manifold(features, seed)
        self.info = {"extractor": extractor.info, "reference_images": self.num_real}
        self.judge2 = judge2
        if judge2 is not None:
            features2, _, digits2 = judge2.read(real)
            self.fid2 = _fid_against(features2)
            # FIDs in two feature spaces compare once each is divided by its reference's spread
            self.spread = (_spread(features), _spread(features2))
            self.real_confidence = (confidence(digits), confidence(digits2))
            self.info["judges"] = [extractor.info, judge2.info]

    def _second(self, fake: torch.Tensor, digits: torch.Tensor, first: int | None) -> dict:
        """Judge 2's reading of the samples, both judges' confidence, and how often they agree."""
        features, probs, digits2 = self.judge2.read(fake)
        out = {
            "confidence": confidence(digits),
            "real_confidence": self.real_confidence[0],
            "confidence_judge2": confidence(digits2),
            "real_confidence_judge2": self.real_confidence[1],
            "judges_agreement": agreement(digits, digits2),
        }
        if getattr(self.judge2, "modes", False):
            scores = mode_scores(probs)
            out.update({f"{k}_judge2": v for k, v in scores.items()})
        self.fid2.reset()
        self.fid2.update(features[:first], real=False)
        out["fid_judge2"] = float(self.fid2.compute())
        out["fid_scaled_judge2"] = out["fid_judge2"] / self.spread[1]
        return out

    def _kid(self, fake: torch.Tensor) -> tuple[float, float]:
        self.kid.reset()  # keeps the reference features
        self.kid.subset_size = min(self.kid_subset_size, self.num_real, fake.shape[0])
        self.kid.update(fake, real=False)
        # KID draws its subsets from the global RNG: fork it, for repeatable numbers and an
        # undisturbed training stream
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            mean, std = self.kid.compute()
        return float(mean), float(std)

    def score_images(
        self, fake: torch.Tensor, labels: torch.Tensor | None = None, first: int | None = None
    ) -> dict:
        """fake: uint8 (N, C, H, W), N >= 2. Returns fid, kid, kid_std, precision, recall, density,
        coverage, num_samples and, for the classifier extractor, classes_present,
        class_histogram, mean_confidence (on Stacked MNIST: modes, modes_kl, modes_samples, from
        all N). labels (N,): the class each sample was drawn for; adds label_accuracy
        (classifier extractor) and intra_fid (a labelled reference set). first: FID and the
        scores after it from the first `first` samples only (the modes count reads them all)."""
        if fake.dtype != torch.uint8 or tuple(fake.shape[1:]) != self.real_shape:
            raise UserError(
                f"samples must be uint8 (N, {', '.join(map(str, self.real_shape))}); "
                f"got {fake.dtype} {tuple(fake.shape)}"
            )
        if fake.shape[0] < 2:
            raise UserError("FID and KID need at least 2 samples; raise num_samples")
        features, probs, digits = _read(self.extractor, fake)
        second = {} if self.judge2 is None else self._second(fake, digits, first)
        modes = {}
        if getattr(self.extractor, "modes", False):
            modes = {**mode_scores(probs), "modes_samples": int(fake.shape[0])}
            probs = None  # a 1,000-class histogram per evaluation says less than the two numbers
        if first is not None and first < fake.shape[0]:
            fake, features = fake[:first], features[:first]
            probs = None if probs is None else probs[:first]
            labels = None if labels is None else labels[:first]
        self.fid.reset()  # keeps the reference statistics (reset_real_features=False)
        self.fid.update(features, real=False)
        kid, kid_std = self._kid(features)
        out: dict[str, Any] = {
            "fid": float(self.fid.compute()),
            "kid": kid,
            "kid_std": kid_std,
            **self.manifold.scores(features),
            "num_samples": int(fake.shape[0]),
        }
        if probs is not None:
            out.update(class_stats(probs))
        if labels is not None:
            out.update(label_scores(features, probs, labels.cpu(), self.by_class))
        out = {**out, **modes, **second}
        if second:
            out["fid_scaled"] = out["fid"] / self.spread[0]
            flags = disagreements(out)
            out.update(judges_disagree=int(bool(flags)), judges_disagree_on=flags)
        return out

    def score_model(
        self, model, n_samples: int = 1000, seed: int = 0, modes_samples: int | None = None
    ) -> dict:
        """Scores n_samples drawn from fixed noise (seed), a conditional model's balanced over
        its classes; adds eval_s, the seconds it took. modes_samples: on Stacked MNIST, draw
        this many when more, count modes on all and score FID on the first n_samples."""
        t0 = time.perf_counter()
        n = n_samples
        if modes_samples and getattr(self.extractor, "modes", False):
            n = max(n_samples, modes_samples)
        labels = model.sample_labels(n) if getattr(model, "num_classes", 0) else None
        out = self.score_images(sample_uint8(model, n, seed, labels=labels), labels, n_samples)
        out["eval_s"] = round(time.perf_counter() - t0, 3)
        return out


def make_scorer(
    dataset_cfg,
    device: torch.device | str = "cpu",
    extractor: str = "auto",
    split: str = "test",
    recipe: clf.ClassifierRecipe | None = None,
    inception_path: str | None = None,
    kid_subsets: int = 100,
    labels: bool = False,
    judges: bool = True,
    fetch_timeout: float = READ_TIMEOUT_S,
) -> Scorer:
    """A Scorer against the dataset's split, with the named extractor ("auto": classifier for the
    MNIST family, else inception). Build it once and call score_model at each evaluation.
    labels: also read the reference images' classes, for a conditional model's intra-FID.
    judges: with the classifier, a second independent classifier reads the samples too.
    fetch_timeout: seconds without a byte before the Inception weights' first fetch gives up."""
    name = default_extractor(dataset_cfg) if extractor == "auto" else extractor
    judge2 = None
    if name == "classifier" and judges:
        ext, judge2 = make_judges(dataset_cfg, device, recipe)
    else:
        ext = make_extractor(name, dataset_cfg, device, recipe, inception_path, fetch_timeout)
    real_labels = reference_labels(dataset_cfg, split) if labels else None
    scorer = Scorer(
        ext,
        reference_images(dataset_cfg, split),
        kid_subsets=kid_subsets,
        real_labels=real_labels,
        judge2=judge2,
    )
    scorer.info.update({"dataset": describe(dataset_cfg), "split": split})
    return scorer


def evaluate(model, real: torch.Tensor, n_samples: int, extractor, seed: int = 0) -> dict:
    """One-off: model's n_samples against real uint8 images with a built extractor."""
    return Scorer(extractor, real, seed=seed).score_model(model, n_samples, seed)
