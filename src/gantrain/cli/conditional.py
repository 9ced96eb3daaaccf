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
from gantrain.training.resume import RunRefused

log = logging.getLogger("gantrain")


def _takes(target: str, name: str) -> bool:
    params = params_of(get_object(target))
    return params is None or name in params


def load_labelled(cfg: DictConfig) -> tuple[Labelled, DictConfig]:
    """The training data with labels, and a copy of cfg whose model and image critic are told
    how many classes there are (model.num_classes, objective.critic.num_classes: the config
    the checkpoint keeps, so gantrain-sample and gantrain-eval rebuild the same nets)."""
    loader, model = cfg.dataset._target_, cfg.model._target_
    if not _takes(loader, "labels"):
        raise UserError(
            f"conditional=true needs a dataset loader that gives labels ({loader} takes no "
            "labels=): use one of gantrain's datasets, or leave conditional=false"
        )
    if not _takes(model, "num_classes"):
        raise UserError(
            f"conditional=true needs a model that takes a label ({model} has no num_classes): "
            "use model=dcgan, ae or vae, or leave conditional=false"
        )
    source = build(cfg.dataset, labels=True)
    if not isinstance(source, Labelled):
        raise UserError(f"conditional=true: {loader} gave no labels; leave conditional=false")
    nets = cfg.copy()
    with open_dict(nets):
        nets.model.num_classes = len(source.classes)
        critic = nets.objective.get("critic")
        if critic is not None and "num_classes" in (params_of(get_object(critic._target_)) or {}):
            critic.num_classes = len(source.classes)
    log.info("conditional: %d classes", len(source.classes))
    return source, nets


def same_classes(state: dict, source: Labelled | None) -> None:
    """A run continues only with the classes it was trained on (resume_force cannot change
    the nets' shapes or what each label means)."""
    before: list[str] = state.get("classes") or []
    was = "conditional=true" if before else "conditional=false"
    if bool(before) != (source is not None):
        raise RunRefused(
            f"this run was trained with {was}; a resumed run keeps it: drop the "
            "conditional= override, or start a new run"
        )
    if source is not None and list(before) != list(source.classes):
        raise RunRefused(
            f"the data's classes changed since this run started (was {', '.join(before[:10])}; "
            f"now {', '.join(source.classes[:10])}): restore the class folders as they were, or "
            "start a new run"
        )
