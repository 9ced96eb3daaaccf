"""conditional=true: the training data with its labels, read before the nets are built, since
their size depends on how many classes the data has."""

from __future__ import annotations

import logging

from hydra.utils import get_object
from omegaconf import DictConfig, open_dict

from gantrain.config import build
from gantrain.data.labelled import Labelled
from gantrain.errors import UserError
from gantrain.schema import params_of

log = logging.getLogger("gantrain")


def load_labelled(cfg: DictConfig):
    """The training data with labels, and the model and an image critic told how many classes
    there are (model.num_classes, objective.critic.num_classes: in the config that the
    checkpoint keeps, so gantrain-sample and gantrain-eval rebuild the same nets)."""
    takes = params_of(get_object(cfg.dataset._target_))
    if takes is not None and "labels" not in takes:
        raise UserError(
            f"conditional=true needs a dataset loader that gives labels; "
            f"{cfg.dataset._target_} takes no labels= argument"
        )
    source = build(cfg.dataset, labels=True)
    if not isinstance(source, Labelled):
        raise UserError(f"conditional=true: {cfg.dataset._target_} gave no labels")
    with open_dict(cfg):
        cfg.model.num_classes = len(source.classes)
        critic = cfg.objective.get("critic")
        if critic is not None and "num_classes" in (params_of(get_object(critic._target_)) or {}):
            critic.num_classes = len(source.classes)
    log.info("conditional: %d classes", len(source.classes))
    return source
