"""Names a saved run's config may hold after code moved: every entry of the moved-name map leads
to a class or function, and a checkpoint naming an old home passes the slot check and builds."""

from __future__ import annotations

import inspect

import pytest
import torch
from helpers import compose_cfg, without_hydra
from hydra.utils import get_object
from omegaconf import OmegaConf

from gantrain.config import build
from gantrain.saved_config import check_saved, registered_targets
from gantrain.slots import MOVED
from gantrain.training import checkpoint


def _named(name: str):
    """What a dotted name names, or None where it no longer imports."""
    try:
        return get_object(name)
    except ImportError:
        return None


@pytest.mark.parametrize("old,new", sorted(MOVED.items()))
def test_each_old_name_leads_to_what_its_new_name_names(old, new):
    found = get_object(MOVED.get(old, old))
    assert found is get_object(new)
    assert callable(found) and not inspect.ismodule(found)
    assert _named(old) in (None, found)  # an old home still importable names the same thing


def test_every_name_a_slot_holds_today_is_a_class_or_function():
    # a package standing where a module was (data/shards/) still names its loader, not itself
    found = {name: _named(name) for name in sorted(registered_targets() - set(MOVED))}
    assert [n for n, obj in found.items() if obj is None or inspect.ismodule(obj)] == []
    from gantrain.data import shards

    assert found["gantrain.data.shards.load"] is shards.load


def _saved_config() -> dict:
    cfg = without_hydra(compose_cfg(["dataset=celeba", "dataset.root=/data"]))
    return OmegaConf.to_container(cfg, resolve=True)


def test_a_checkpoint_naming_old_homes_passes_the_slot_check_and_builds(tmp_path):
    from gantrain.data import celeba
    from gantrain.training.trainer import Trainer

    config = _saved_config()
    config["trainer"]["_target_"] = "gantrain.trainer.Trainer"
    config["dataset"]["_target_"] = "gantrain.data.torchvision_sets.load_celeba"
    check_saved(config, "last.pt")
    # old homes are in checkpoints of format 1, from before the moves
    torch.save({"format": 1, "config": config, "round": 1}, tmp_path / "last.pt")
    loaded = checkpoint.load(tmp_path / "last.pt")["config"]
    check_saved(loaded, "last.pt")
    assert isinstance(build(loaded["trainer"]), Trainer)
    assert build(loaded["dataset"], _partial_=True).func is celeba.load  # reading waits for data
