"""Nets counted on the meta device before they are built; failed allocations as one line."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY, compose_cfg, without_hydra

from gantrain.errors import UserError
from gantrain.hardware import memory_check as mc


def _cfg(extra: list[str]):
    return without_hydra(compose_cfg([*TINY, *extra]))


def test_parameters_are_counted_without_memory():
    from gantrain.config import build

    cfg = _cfg(["model.latent_dim=20"])
    spec = mc.nets_of(cfg)["model"]
    assert mc.count_parameters(spec) == sum(p.numel() for p in build(cfg.model).parameters())
    huge = mc.count_parameters({**spec, "latent_dim": 10**9})  # instant: nothing is allocated
    assert huge > 10**9


def test_too_large_names_the_key_that_grew(monkeypatch):
    monkeypatch.setattr(mc, "device_available", lambda device: 1 << 20)  # 1 MiB free
    with pytest.raises(UserError) as err:
        mc.check_fits(_cfg(["model.latent_dim=5000"]), torch.device("cpu"))
    text = str(err.value)
    assert "model.latent_dim=5000" in text and "lower model.latent_dim" in text
    monkeypatch.setattr(mc, "device_available", lambda device: 1 << 40)
    mc.check_fits(_cfg(["model.latent_dim=5000"]), torch.device("cpu"))  # fits: no error


def test_a_critic_too_large_names_its_keys(monkeypatch):
    monkeypatch.setattr(mc, "device_available", lambda device: 1 << 20)
    cfg = _cfg(["objective.critic.width=64", "objective.critic.max_width=512"])
    with pytest.raises(UserError, match=r"objective\.critic\.(max_)?width="):
        mc.check_fits(cfg, torch.device("cpu"))


def test_a_failed_allocation_is_one_line():
    cfg = _cfg([])
    message = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 4000000000 bytes"
    with pytest.raises(UserError, match="out of memory while building the nets.*model.latent_dim"):
        with mc.one_line_if_out_of_memory(cfg):
            raise RuntimeError(message)
    with pytest.raises(ValueError):  # anything else is not the memory's fault: left alone
        with mc.one_line_if_out_of_memory(cfg):
            raise ValueError("a bug")
    # a constructor's own refusal, re-raised with a cause that leads back to it, passes as is
    refusal, wrapper = UserError("objective.gradient_penalty=10 needs ..."), RuntimeError("x")
    wrapper.__cause__, refusal.__context__ = refusal, wrapper
    with pytest.raises(UserError, match="gradient_penalty"):
        with mc.one_line_if_out_of_memory(cfg):
            raise refusal
    assert not mc._out_of_memory(wrapper)  # the loop of causes ends
