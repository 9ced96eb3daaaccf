"""All eight model x objective pairs: they run, they learn on a fixed batch, pictures appear."""

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
    curve = [objective.step(model, lambda: images)[key].item() for _ in range(40)]
    start, end = sum(curve[:3]) / 3, sum(curve[-3:]) / 3
    assert end < 0.8 * start, (pair, key, curve[:3], curve[-3:])


def test_vae_reports_elbo_in_nats(mnist_root, tmp_path):
    summary = tiny_train(
        ["model=vae", "objective=mle", "trainer.rounds=2", "trainer.sample_at=[2]"],
        tmp_path,
        mnist_root,
    )
    final = summary["final"]
    assert final["elbo"] == pytest.approx(-(final["nll"] + final["kl"]), rel=1e-4)
    assert final["elbo"] < 0
