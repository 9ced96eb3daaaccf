"""FID/KID during training: which rounds, and a scorer built once before the loop."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from gantrain.errors import UserError

log = logging.getLogger("gantrain")

FIRST_DEFAULT_ROUND = 1000  # earlier samples are noise; scoring them costs time and tells little


def eval_rounds(at, sample_at: list[int], rounds: int) -> list[int]:
    """eval.at, or by default the sample milestones from round 1000 on; only those <= rounds."""
    if at is None:
        chosen = [r for r in sample_at if r >= FIRST_DEFAULT_ROUND]
    elif isinstance(at, int | str) or any(
        isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in at
    ):
        raise UserError(f"eval.at={at!r} must be a list of positive integers, [] for none, or null")
    else:
        chosen = list(at)
    return sorted({r for r in chosen if r <= rounds})


def make_evaluator(eval_cfg, dataset_cfg, device: torch.device, rounds: list[int]
                   ) -> Callable[[torch.nn.Module], dict] | None:  # fmt: skip
    """A function model -> {fid, kid, ...} (scalars only), or None when nothing is evaluated.

    A dataset without labels or a test split, or Inception weights missing offline, turn
    evaluation off with a warning: training goes on without it.
    """
    if not rounds:
        return None
    from gantrain.host_memory import release_freed_memory
    from gantrain.metrics import make_scorer
    from gantrain.metrics.classifier import Recipe

    recipe = Recipe(steps=eval_cfg.classifier.steps, batch_size=eval_cfg.classifier.batch_size)
    try:
        scorer = make_scorer(dataset_cfg, device, extractor=eval_cfg.extractor, split=eval_cfg.split,
                             recipe=recipe, kid_subsets=eval_cfg.kid_subsets)  # fmt: skip
    except UserError as err:
        log.warning("evaluation during training is off: %s", err)
        return None
    log.info("evaluating at rounds %s: %d samples, %s", rounds, eval_cfg.num_samples, scorer.info)

    def evaluate(model: torch.nn.Module) -> dict:
        release_freed_memory()
        scores = scorer.score_model(model, eval_cfg.num_samples, eval_cfg.seed)
        return {k: v for k, v in scores.items() if isinstance(v, int | float)}

    return evaluate
