"""FID/KID during training: which rounds, and a scorer built once before the loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from gantrain.errors import UserError
from gantrain.kinds import Integer, PositiveInt, Rounds
from gantrain.metrics.classifier import Recipe
from gantrain.metrics.protocol import Extractor, SampleCount, Split

log = logging.getLogger("gantrain")

FIRST_DEFAULT_ROUND = 1000  # earlier samples are noise; scoring them costs time and tells little


@dataclass(frozen=True)
class EvalSettings:
    """FID/KID during training (the eval.* keys)."""

    # rounds to evaluate at; None: the sample milestones from FIRST_DEFAULT_ROUND on; [] for none
    at: Rounds | None = None
    num_samples: SampleCount = 1000
    extractor: Extractor = "auto"
    split: Split = "test"
    kid_subsets: PositiveInt = 100
    seed: Integer = 0
    classifier: Recipe = field(default_factory=Recipe)

    def rounds(self, sample_at: list[int], rounds: int) -> list[int]:
        """The rounds to evaluate at, those <= rounds."""
        if self.at is None:
            chosen = [r for r in sample_at if r >= FIRST_DEFAULT_ROUND]
        else:
            chosen = list(self.at)
        return sorted({r for r in chosen if r <= rounds})


def make_evaluator(settings: EvalSettings, dataset_cfg, device: torch.device, rounds: list[int],
                   labels: bool = False) -> Callable[[torch.nn.Module], dict] | None:  # fmt: skip
    """A function model -> {fid, kid, ...} (numbers, and class_histogram where the extractor
    classifies), or None when nothing is evaluated. labels: the model is conditional (label
    accuracy and intra-FID join the scores).

    A dataset without labels or a test split, or Inception weights missing offline, turn
    evaluation off with a warning: training goes on without it.
    """
    if not rounds:
        return None
    from gantrain.hardware.host_memory import release_freed_memory
    from gantrain.metrics import make_scorer

    try:
        scorer = make_scorer(dataset_cfg, device, extractor=settings.extractor, split=settings.split,
                             recipe=settings.classifier, kid_subsets=settings.kid_subsets,
                             labels=labels)  # fmt: skip
    except UserError as err:
        log.warning("evaluation during training is off: %s", err)
        return None
    log.info("evaluating at rounds %s: %d samples, %s", rounds, settings.num_samples, scorer.info)

    def evaluate(model: torch.nn.Module) -> dict:
        release_freed_memory()
        scores = scorer.score_model(model, settings.num_samples, settings.seed)
        # numbers, and the predicted-class shares for TensorBoard's bar chart
        return {k: v for k, v in scores.items()
                if isinstance(v, int | float) or k == "class_histogram"}  # fmt: skip

    return evaluate
