"""Optimizer keys as a user types them reach torch."""

import pytest
from helpers import compose_cfg, without_hydra

from gantrain.config import build


@pytest.mark.parametrize(
    "pair, keys",
    [
        ("model=dcgan objective=adversarial", ["optimizer", "critic_optimizer"]),
        ("model=vae objective=mle", ["optimizer"]),
    ],
)
def test_integer_betas_reach_adam_as_floats(pair, keys, mnist_root):
    # betas=[0,0.99] passes the schema (two numbers in [0, 1)); torch's Adam refuses an int
    # beside a float, so the objective hands it floats
    overrides = [f"objective.{k}.betas=[0,0.99]" for k in keys]
    cfg = without_hydra(
        compose_cfg([f"dataset.root={mnist_root}", "device=cpu", *pair.split(), *overrides])
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    opts = [objective.opt] + ([objective.critic_opt] if len(keys) == 2 else [])
    for opt in opts:
        betas = opt.param_groups[0]["betas"]
        assert betas == (0.0, 0.99) and all(type(b) is float for b in betas)
