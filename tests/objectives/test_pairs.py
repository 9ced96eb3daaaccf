"""All eight model x objective pairs: they run, they learn on a fixed batch, pictures appear."""

import copy

import pytest
import torch
from helpers import compose_cfg, tiny_train, without_hydra

from gantrain.config import build

# pair -> (extra overrides for tiny nets, the logged loss that must fall on a fixed batch)
PAIRS = {
    "ae_mle": ([], "loss"),
    "vae_mle": ([], "loss"),
    "ae_mmd": ([], "loss"),
    "vae_mmd": ([], "loss"),
    "dcgan_mmd": ([], "mmd"),
    "ae_adversarial": (["objective.critic.hidden=16"], "nll"),
    "vae_adversarial": (["objective.critic.width=8", "objective.critic.max_width=16"], "nll"),
    "dcgan_adversarial": (["objective.critic.width=8", "objective.critic.max_width=16"], "loss_d"),
}


def _args(pair):
    model, objective = pair.split("_")
    return [f"model={model}", f"objective={objective}", *PAIRS[pair][0]]


@pytest.mark.slow
@pytest.mark.parametrize("pair", list(PAIRS))
def test_pair_trains_and_writes_pictures(pair, mnist_root, tmp_path):
    summary = tiny_train(
        [*_args(pair), "trainer.rounds=4", "trainer.sample_at=[2,4]"], tmp_path, mnist_root
    )
    assert summary["status"] == "done" and summary["rounds"] == 4
    assert all(torch.isfinite(torch.tensor(v)) for v in summary["final"].values())
    assert (tmp_path / "samples" / "round_000004.png").is_file()
    assert (tmp_path / "samples" / "evolution.png").is_file()
    recon = sorted(p.name for p in (tmp_path / "reconstructions").glob("*.png"))
    assert recon == ([] if pair.startswith("dcgan") else ["round_000002.png", "round_000004.png"])


@pytest.mark.slow
@pytest.mark.parametrize("pair", list(PAIRS))
def test_pair_loss_falls_on_a_fixed_batch(pair, mnist_root):
    torch.manual_seed(0)
    cfg = without_hydra(
        compose_cfg(
            [
                f"dataset.root={mnist_root}",
                "device=cpu",
                "model.width=8",
                "model.max_width=16",
                *_args(pair),
            ]
        )
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    images = build(cfg.dataset)[:32].float().div(127.5).sub(1)
    key = PAIRS[pair][1]
    curve = [objective.run_round(model, lambda: images)[key].item() for _ in range(40)]
    start, end = sum(curve[:3]) / 3, sum(curve[-3:]) / 3
    assert end < 0.8 * start, (pair, key, curve[:3], curve[-3:])


@pytest.mark.slow
def test_vae_reports_elbo_in_nats(mnist_root, tmp_path):
    summary = tiny_train(
        ["model=vae", "objective=mle", "trainer.rounds=2", "trainer.sample_at=[2]"],
        tmp_path,
        mnist_root,
    )
    final = summary["final"]
    assert final["elbo"] == pytest.approx(-(final["nll"] + final["kl"]), rel=1e-4)
    assert final["elbo"] < 0


@pytest.mark.slow
def test_generator_step_leaves_the_critic_gradient_to_the_critic_loss(mnist_root):
    """After a round the critic's gradient is its own loss's alone: the generator step's
    backward passes through the critic without computing gradients for its weights."""
    cfg = without_hydra(
        compose_cfg([f"dataset.root={mnist_root}", "device=cpu", *_args("dcgan_adversarial")])
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    objective.critic_opt = torch.optim.SGD(objective.critic.parameters(), lr=0.0)  # no move
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    state, start = torch.random.get_rng_state(), copy.deepcopy(model.state_dict())
    objective.run_round(model, lambda: x)
    got = [p.grad.clone() for p in objective.critic.parameters()]
    # the same critic loss by hand, from the same generator and noise
    model.load_state_dict(start)
    torch.random.set_rng_state(state)
    objective.critic.zero_grad()
    with torch.no_grad():
        fake = model.decode(model.prior(8))
    from gantrain.objectives.functional import d_loss

    d_loss(objective.critic(x), objective.critic(fake), objective.loss.real_label).backward()
    for g, p in zip(got, objective.critic.parameters()):
        assert torch.allclose(g, p.grad, atol=1e-6)


def test_conditional_mmd_compares_only_pairs_of_one_class():
    from gantrain.objectives.mmd import MMD

    mmd = MMD(optimizer=None, space="data", kernel="rbf", bandwidths=[1.0], unbiased=False)
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 2
    x = torch.randn(64, 3, generator=g) + 4 * labels[:, None]  # class 1 sits 4 away
    # the same points with their classes swapped: as a set of images nothing changed
    swapped = torch.empty_like(x)
    swapped[labels == 0], swapped[labels == 1] = x[labels == 1], x[labels == 0]
    assert mmd.discrepancy(x, swapped) < 1e-6
    assert mmd.discrepancy(x, x.clone(), labels) < 1e-6
    assert mmd.discrepancy(x, swapped, labels) > 0.2
