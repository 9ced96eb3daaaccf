"""The relativistic pairing loss (RpGAN) and the R2 penalty: closed cases, the lazy schedule,
and the R3GAN objective (RpGAN + R1 + R2) training the residual nets with augmentation and EMA."""

import math

import pytest
import torch
from helpers import compose_cfg, tiny_train, without_hydra

from gantrain.config import build
from gantrain.objectives import functional as F
from gantrain.objectives.penalties import CriticPenalties
from gantrain.upgrade import upgrade_payload


def test_relativistic_loss_of_known_scores():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    d = (softplus(0.0 - 2.0) + softplus(1.0 - 0.0)) / 2
    g = (softplus(2.0 - 0.0) + softplus(0.0 - 1.0)) / 2
    assert F.d_loss_relativistic(real, fake).item() == pytest.approx(d)
    assert F.g_loss_relativistic(fake, real).item() == pytest.approx(g)
    # only differences count: a shift of every score leaves both losses as they are
    assert F.d_loss_relativistic(real + 5, fake + 5).item() == pytest.approx(d)
    # equal scores: log 2 on both sides
    same = torch.zeros(3)
    assert F.d_loss_relativistic(same, same).item() == pytest.approx(math.log(2))


def test_relativistic_gradients_push_pairs_apart_and_together():
    real = torch.tensor([0.5, -1.0], requires_grad=True)
    fake = torch.tensor([0.0, 0.0], requires_grad=True)
    F.d_loss_relativistic(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # the critic raises real, lowers fake
    assert torch.allclose(real.grad, -fake.grad)  # each pair's difference alone matters
    fake.grad = None
    F.g_loss_relativistic(fake, real.detach()).backward()
    assert (fake.grad < 0).all()  # the generator raises its samples' scores


def test_r2_of_a_critic_is_taken_on_generated_samples():
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: (x.pow(2) @ w) / 2  # noqa: E731 (input gradient x * w)
    real, fake = torch.ones(4, 2), 2 * torch.ones(4, 2)
    r1_only = CriticPenalties(r1=1.0)(critic, real, fake)[0].item()
    total, logs = CriticPenalties(r2=1.0)(critic, real, fake)
    assert r1_only == pytest.approx(0.5 * (9 + 16))  # |w|^2 / 2 at x = 1
    assert total.item() == pytest.approx(0.5 * (36 + 64))  # |2w|^2 / 2 at x = 2
    assert logs["r2_penalty"].item() == pytest.approx(50.0)


def test_lazy_r2_runs_every_n_steps_with_its_weight_scaled_and_resumes():
    w = torch.tensor([3.0, 4.0])
    critic = lambda x: x @ w  # noqa: E731 (linear: R2 = |w|^2 / 2 = 12.5)
    lazy = CriticPenalties(r2=2.0, r2_every=2)
    assert lazy.varies_by_round and not CriticPenalties(r2=2.0).varies_by_round
    x = torch.randn(4, 2)
    totals = [lazy(critic, x, x)[0].item() for _ in range(4)]
    assert totals == pytest.approx([2.0 * 2 * 12.5, 0, 2.0 * 2 * 12.5, 0])
    restored = CriticPenalties(r2=2.0, r2_every=2)
    restored.load_state_dict(lazy.state_dict())
    assert restored.steps_host == 4 and restored.last_r2.item() == pytest.approx(12.5)
    old = {k: v for k, v in lazy.state_dict().items() if k != "last_r2"}
    payload = upgrade_payload({"format": 1, "objective": {"penalties": old}})  # before R2
    CriticPenalties(r1=1.0).load_state_dict(payload["objective"]["penalties"])


@pytest.mark.slow
def test_relativistic_step_uses_the_paired_scores(mnist_root):
    torch.manual_seed(0)
    cfg = without_hydra(
        compose_cfg(
            [
                f"dataset.root={mnist_root}",
                "device=cpu",
                "model=resnet",
                "model.width=8",
                "model.max_width=8",
                "objective.critic.width=8",
                "objective.critic.max_width=8",
                "objective.loss.kind=relativistic",
                "objective.penalties.r1=1",
                "objective.penalties.r2=1",
            ]
        )
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    images = torch.rand(8, 1, 28, 28) * 2 - 1
    logs = objective.run_round(model, lambda: images)
    assert {"r1_penalty", "r2_penalty", "loss_d", "loss_g"} <= set(logs)
    assert logs["r2_penalty"].item() > 0


@pytest.mark.slow
@pytest.mark.parametrize("augment", ["ada", "diffaug"])
def test_r3gan_objective_trains_with_augmentation_and_ema(augment, mnist_root, tmp_path):
    summary = tiny_train(
        [
            "model=resnet",
            "objective.critic.width=8",
            "objective.critic.max_width=16",
            "objective.critic.norm=none",
            "objective.loss.kind=relativistic",
            "objective.penalties.r1=1",
            "objective.penalties.r2=1",
            "objective.penalties.r2_every=2",
            f"objective.augment.kind={augment}",
            "trainer.ema_decay=0.9",
            "conditional=true",
            "trainer.rounds=3",
            "trainer.sample_at=[3]",
        ],
        tmp_path,
        mnist_root,
    )
    final = summary["final"]
    assert summary["status"] == "done"
    assert {"r1_penalty", "r2_penalty"} <= set(final)
    assert all(torch.isfinite(torch.tensor(v)) for v in final.values())
