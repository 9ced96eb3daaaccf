"""The keys of `gantrain`'s config: the top level's own, and the class each node builds, whose
parameters are that node's keys (gantrain.schema reads them)."""

from __future__ import annotations

from gantrain.kinds import Flag, Integer, Node, PathText


def train_keys(
    model: Node,
    objective: Node,
    dataset: Node,
    device: Node,
    trainer: Node,
    eval: Node,  # noqa: A002 (the eval.* keys)
    logger: Node | None = None,
    schedule: Node | None = None,
    seed: Integer = 0,
    resume: PathText | None = None,
    resume_force: Flag = False,
    conditional: Flag = False,
):
    """The top level of gantrain's config: the groups, the seed, resuming, and whether the
    model and its critic take class labels from the data."""


def schema():
    """gantrain's schema: each config node's keys are the parameters of what it builds."""
    from gantrain.hardware.accel import Accelerator
    from gantrain.hardware.device import resolve_device, set_threads
    from gantrain.hardware.distributed import group_keys
    from gantrain.metrics.classifier import ClassifierRecipe
    from gantrain.objectives.augment import Augment, policy_keys
    from gantrain.objectives.losses import AdversarialLoss
    from gantrain.objectives.optimizers import STAND_INS
    from gantrain.objectives.penalties import CriticPenalties
    from gantrain.objectives.reconstruction import Reconstruction
    from gantrain.record.trackers import sections as logger_sections
    from gantrain.schema import Schema
    from gantrain.training.evaluation import EvalSettings

    sections = {
        "": (train_keys,),
        "device": (resolve_device, set_threads, Accelerator, group_keys),
        "eval": (EvalSettings,),
        "eval.classifier": (ClassifierRecipe,),
        # objective's groups of keys: each is what its class takes
        "objective.loss": (AdversarialLoss,),
        "objective.penalties": (CriticPenalties,),
        "objective.augment": (Augment,),
        "objective.augment.policy": (policy_keys,),
        "objective.reconstruction": (Reconstruction,),
        **logger_sections(),
    }
    return Schema(sections, stand_ins=STAND_INS)
