"""FID/KID during training: which rounds, and a scorer built once before the loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.kinds import Integer, PositiveFloat, PositiveInt, Rounds
from gantrain.metrics.classifier import ClassifierRecipe
from gantrain.metrics.judges import DISAGREE
from gantrain.metrics.protocol import Extractor, SampleCount, Split

log = logging.getLogger("gantrain")

FIRST_DEFAULT_ROUND = 1000  # earlier samples are noise; scoring them costs time and tells little
# TensorBoard's Scalars charts ("Ignore outliers in chart scaling", on by default) fit the y axis
# to the points strictly between the 5th and 95th percentiles: two evaluations leave none, and
# the FID chart is empty. The default stretch from FIRST_DEFAULT_ROUND to the end is cut into
# at least this many steps, so the scale keeps points and the line shows the curve's shape.
MIN_DEFAULT_STEPS = 5


@dataclass(frozen=True)
class EvalSettings:
    """FID/KID during training (the eval.* keys)."""

    # rounds to evaluate at; None: default_rounds(); [] for none
    at: Rounds | None = None
    num_samples: SampleCount = 1000
    modes_samples: SampleCount | None = None
    extractor: Extractor = "auto"
    split: Split = "test"
    kid_subsets: PositiveInt = 100
    seed: Integer = 0
    fetch_timeout: PositiveFloat = 30.0
    classifier: ClassifierRecipe = field(default_factory=ClassifierRecipe)

    def rounds(self, sample_at: list[int], rounds: int) -> list[int]:
        """The rounds to evaluate at, those <= rounds."""
        chosen = default_rounds(sample_at, rounds) if self.at is None else self.at
        return sorted({r for r in chosen if r <= rounds})


def too_short_line(settings: EvalSettings, rounds: int) -> str | None:
    """The log line of a run the default schedule evaluates never (under FIRST_DEFAULT_ROUND
    rounds), saying how to get an evaluation; None where there is nothing to say."""
    if settings.at is not None or rounds >= FIRST_DEFAULT_ROUND:
        return None
    return (
        f"no evaluation: {rounds} rounds is too short for the default eval schedule (from round "
        f"{FIRST_DEFAULT_ROUND}); set eval.at=[{rounds}] to score the end of this run"
    )


def default_rounds(sample_at: list[int], rounds: int) -> list[int]:
    """From FIRST_DEFAULT_ROUND to the last round every `step` rounds, step a round number
    (1, 2 or 5 x 10^k) of a fifth to a twelfth of that stretch (200 for 2,000 rounds, 5,000 for
    50,000): six to thirteen evaluations from 1,005 rounds on, and the sample milestones on that
    stretch. A few seconds each on a CPU, next to minutes of training."""
    if rounds < FIRST_DEFAULT_ROUND:
        return []
    step = _round_number((rounds - FIRST_DEFAULT_ROUND) / MIN_DEFAULT_STEPS)
    grid = range(step, rounds + 1, step)
    chosen = {FIRST_DEFAULT_ROUND, rounds, *grid, *sample_at}
    return sorted(r for r in chosen if FIRST_DEFAULT_ROUND <= r <= rounds)


def _round_number(at_most: float) -> int:
    """The largest of 1, 2, 5, 10, 20, 50, ... that is <= at_most (1 when at_most < 1)."""
    best, scale = 1, 1
    while scale <= at_most:
        best = max(m * scale for m in (1, 2, 5) if m * scale <= at_most)
        scale *= 10
    return best


def make_evaluator(
    settings: EvalSettings,
    dataset_cfg,
    device: torch.device,
    rounds: list[int],
    labels: bool = False,
) -> Callable[[torch.nn.Module], dict] | None:
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
        scorer = make_scorer(
            dataset_cfg,
            device,
            extractor=settings.extractor,
            split=settings.split,
            recipe=settings.classifier,
            kid_subsets=settings.kid_subsets,
            labels=labels,
            fetch_timeout=settings.fetch_timeout,
        )
    except UserError as err:
        log.warning("evaluation during training is off: %s", err)
        return None
    log.info("%s", plan_line(rounds, settings.num_samples, scorer.info))
    judges = judge_names(scorer.info)

    def evaluate(model: torch.nn.Module) -> dict:
        release_freed_memory()
        scores = scorer.score_model(
            model, settings.num_samples, settings.seed, settings.modes_samples
        )
        # numbers, the predicted-class shares for TensorBoard's bar chart, and the judges'
        # weight hashes for its protocol text
        if scores.get("judges_disagree"):
            log.warning(
                "evaluation: %s (%s past the margin)",
                DISAGREE,
                ", ".join(scores["judges_disagree_on"]),
            )
        kept = {
            k: v for k, v in scores.items() if isinstance(v, int | float) or k == "class_histogram"
        }
        return {**kept, "judges": judges} if judges else kept

    return evaluate


def judge_names(info: dict) -> str:
    """The feature extractors' weight hashes, e.g. "classifier 3f2a9c01b7de, classifier_plain
    9e0d41c2aa57" (empty for extractors without one, such as InceptionV3)."""
    named = info.get("judges") or [info.get("extractor", {})]
    return ", ".join(
        f"{Path(j['file']).name.split('-')[0]} {j['weights_sha256']}"
        for j in named
        if "weights_sha256" in j
    )


def plan_line(rounds: list[int], num_samples: int, info: dict) -> str:
    """The evaluation plan in words, e.g. "evaluating at rounds 1000, 1500 and 2000: FID/KID
    of 1,000 samples against 10,000 mnist test images, in the features of classifier-mnist-...pt
    (98.6% test accuracy)"; a long list of rounds is cut to its ends."""
    at = [str(r) for r in rounds]
    if len(at) == 1:
        listed = f"round {at[0]}"
    elif len(at) <= 8:
        listed = f"rounds {', '.join(at[:-1])} and {at[-1]}"
    else:
        listed = f"{len(at)} rounds ({', '.join(at[:3])}, ..., {', '.join(at[-2:])})"
    reference = " ".join(str(w) for w in (info.get("dataset"), info.get("split")) if w)
    line = (
        f"evaluating at {listed}: FID/KID of "
        f"{num_samples:,} samples against {info.get('reference_images', 0):,} "
        f"{reference + ' ' if reference else ''}images"
    )
    extractor = info.get("extractor", {})
    source = extractor.get("file") or extractor.get("weights")
    if source:
        line += f", in the features of {Path(source).name}"
        if "test_accuracy" in extractor:
            line += f" ({extractor['test_accuracy']:.1%} test accuracy)"
    elif extractor.get("name"):
        line += f", in {extractor['name']} features"
    judges = info.get("judges", [])
    if len(judges) > 1:
        line += (
            f"; a second judge reads them too, {Path(judges[1]['file']).name} "
            f"({judges[1]['test_accuracy']:.1%} test accuracy)"
        )
    return line
