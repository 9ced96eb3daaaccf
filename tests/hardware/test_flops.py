"""The start-up line's cost: parameters and GFLOPs per round, counted without moving anything
a run keeps."""

import pytest
import torch
from helpers import compose_cfg, without_hydra

from gantrain.config import build
from gantrain.hardware.flops import cost_line, round_flops


def _built(mnist_root, extra):
    cfg = without_hydra(
        compose_cfg(
            [
                f"dataset.root={mnist_root}",
                "device=cpu",
                "model.width=8",
                "model.max_width=16",
                *extra,
            ]
        )
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    return model, objective


@pytest.mark.slow
def test_counting_moves_no_state_and_scales_with_the_batch(mnist_root):
    model, objective = _built(mnist_root, ["model=resnet", "objective.critic.width=8"])
    before = {
        **model.state_dict(),
        **{f"c.{k}": v for k, v in objective.critic.state_dict().items()},
    }
    before = {k: v.clone() for k, v in before.items()}
    rng = torch.get_rng_state()
    one = round_flops(model, objective, 1)
    assert round_flops(model, objective, 64) == pytest.approx(64 * one)
    after = {
        **model.state_dict(),
        **{f"c.{k}": v for k, v in objective.critic.state_dict().items()},
    }
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN stats, spectral vectors
    assert torch.equal(rng, torch.get_rng_state()) and model.training and objective.critic.training
    line = cost_line(model, objective, 64)
    assert (
        line.startswith("parameters: model ") and "critic " in line and "GFLOPs per round" in line
    )


@pytest.mark.slow
def test_round_cost_follows_the_objective(mnist_root):
    model, plain = _built(mnist_root, ["model=resnet", "objective.critic.width=8"])
    _, five = _built(
        mnist_root, ["model=resnet", "objective.critic.width=8", "objective.critic_steps=5"]
    )
    _, rel = _built(
        mnist_root, ["model=resnet", "objective.critic.width=8", "objective.loss.kind=relativistic"]
    )
    base = round_flops(model, plain, 1)
    assert round_flops(model, five, 1) > 2.5 * base  # four more critic steps
    assert round_flops(model, rel, 1) > base  # one more critic pass on the real batch
    vae, mle = _built(mnist_root, ["model=vae", "objective=mle"])
    assert "critic" not in cost_line(vae, mle, 8) and round_flops(vae, mle, 8) > 0
