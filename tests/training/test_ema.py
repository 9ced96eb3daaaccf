"""The EMA's warm-up: early averages follow the model; the count travels with checkpoints."""

from __future__ import annotations

import pytest
import torch

from gantrain.training.ema import EMA


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def test_warm_up_decay_follows_tensorflows_num_updates_schedule():
    ema = EMA(_net(), 0.99)
    seen = []
    for _ in range(1000):
        seen.append(ema.current_decay())
        ema.update(ema.model)
    assert seen[0] == pytest.approx(0.1) and seen[100] == pytest.approx(101 / 110)
    assert seen[-1] == 0.99 and all(a <= b for a, b in zip(seen, seen[1:]))
    assert EMA(_net(), 0.99, warmup=False).current_decay() == 0.99


def test_early_average_holds_little_of_the_initial_weights():
    net = _net()
    start = net[0].weight.detach().clone()
    warm, fixed = EMA(net, 0.99), EMA(net, 0.99, warmup=False)
    with torch.no_grad():
        net[0].weight.add_(1.0)  # the model moves by 1 and stays there for 100 updates
    for _ in range(100):
        warm.update(net)
        fixed.update(net)
    moved = lambda e: float((e.model[0].weight - start).mean())  # noqa: E731
    assert moved(fixed) == pytest.approx(1 - 0.99**100, abs=1e-5)  # 63% of the way
    assert moved(warm) > 0.999  # the warm-up's product of decays is ~1e-4 after 100 updates


def test_count_is_restored_so_resumed_updates_repeat_exactly():
    net = _net()
    a = EMA(net, 0.99)
    for _ in range(7):
        a.update(net)
    b = EMA(net, 0.99)  # a fresh average of the same model, as a resumed run builds it
    b.load_state_dict(a.state_dict(), a.updates)
    with torch.no_grad():
        net[0].weight.mul_(2)
    a.update(net)
    b.update(net)
    assert b.updates == a.updates == 8
    assert torch.equal(a.model[0].weight, b.model[0].weight)
