"""WGAN-GP and R1 in the adversarial objective: logged, lazy, refused where they cannot hold."""

import pytest
import torch
from helpers import compose_cfg, tiny_train, without_hydra
from torch import nn

from gantrain.config import build
from gantrain.errors import UserError
from gantrain.models.dcgan import DCGANCritic
from gantrain.objectives.penalties import CriticPenalties

TINY_CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]


def test_layer_norm_critic_normalises_each_sample_on_its_own():
    critic = DCGANCritic(28, 1, width=8, norm="layer")
    assert any(isinstance(m, nn.GroupNorm) and m.num_groups == 1 for m in critic.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    x = torch.randn(5, 1, 28, 28)
    alone = torch.stack([critic(x[i : i + 1])[0] for i in range(5)])
    assert torch.allclose(critic(x), alone, atol=1e-5)  # no sample sees another


def test_lazy_r1_runs_every_n_steps_with_its_weight_scaled():
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x @ w  # noqa: E731 (a linear critic: R1 = |w|^2 / 2 = 12.5)
    lazy = CriticPenalties(r1=2.0, r1_every=3)
    real = torch.randn(4, 2)
    totals = [lazy(critic, real, real)[0].item() for _ in range(6)]
    assert totals == pytest.approx([2.0 * 3 * 12.5, 0, 0, 2.0 * 3 * 12.5, 0, 0])
    _, logs = lazy(critic, real, real)
    assert logs["r1_penalty"].item() == pytest.approx(12.5)
    assert logs["critic_grad_norm"].item() == pytest.approx(5.0)
    restored = CriticPenalties(r1=2.0, r1_every=3)
    restored.load_state_dict(lazy.state_dict())
    assert restored.steps_host == 7  # the schedule continues where it was after a resume


def _objective(mnist_root, extra):
    cfg = without_hydra(
        compose_cfg([f"dataset.root={mnist_root}", "device=cpu", *TINY_CRITIC, *extra])
    )
    return build(cfg.model), build(cfg.objective)


@pytest.mark.slow
def test_gradient_penalty_with_batch_norm_is_refused(mnist_root):
    with pytest.raises(UserError, match="BatchNorm.*objective.critic.norm=layer"):
        _objective(mnist_root, ["objective.penalties.gradient=10"])
    _objective(mnist_root, ["objective.penalties.gradient=10", "objective.critic.norm=layer"])
    _objective(
        mnist_root, ["objective.penalties.r1=10"]
    )  # R1 on real images alone: BatchNorm is fine


@pytest.mark.slow
def test_wasserstein_logs_the_distance_estimate_not_a_probability(mnist_root):
    torch.manual_seed(0)
    model, objective = _objective(
        mnist_root,
        [
            "objective.loss.kind=wasserstein",
            "objective.penalties.gradient=10",
            "objective.critic.norm=layer",
            "model.width=8",
            "model.max_width=16",
        ],
    )
    objective.bind(model)
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    logs = objective.run_round(model, lambda: images)
    assert {"wasserstein", "gradient_penalty", "critic_grad_norm"} <= set(logs)
    assert "d_real" not in logs and "d_fake" not in logs
    real, fake = objective.critic(images), objective.critic(model.decode(model.prior(16)))
    assert logs["loss_d"].item() == pytest.approx(
        (fake.mean() - real.mean()).item() + 10 * logs["gradient_penalty"].item(), abs=0.5
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "pair",
    [
        [
            "model=dcgan",
            "objective.critic.norm=layer",
            "objective.loss.kind=wasserstein",
            *TINY_CRITIC,
        ],
        ["model=vae", "objective=adversarial", "objective.critic.norm=layer", *TINY_CRITIC],
        ["model=ae", "objective=adversarial", "objective.critic.hidden=16"],  # the code critic
    ],
)
def test_both_penalties_train_every_pair_with_a_critic(pair, mnist_root, tmp_path):
    summary = tiny_train(
        [
            *pair,
            "objective.penalties.gradient=10",
            "objective.penalties.r1=1",
            "objective.penalties.r1_every=2",
            "trainer.rounds=3",
            "trainer.sample_at=[3]",
        ],
        tmp_path,
        mnist_root,
    )
    final = summary["final"]
    assert {"gradient_penalty", "r1_penalty", "critic_grad_norm"} <= set(final)
    assert all(torch.isfinite(torch.tensor(v)) for v in final.values())
