"""The residual nets in every pair they fit: the residual GAN (adversarial, GMMN) and the
residual AE/VAE (model.backbone=resnet) under every objective, conditional runs included; the
one pair that does not fit is refused in one line."""

import pytest
import torch
from helpers import tiny_train

from gantrain.errors import UserError

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]
RESNET_AE = ["model.backbone=resnet"]
# (overrides, conditional too?)
PAIRS = {
    "resnet_adversarial": (["model=resnet", "objective=adversarial", *CRITIC], True),
    "resnet_mmd": (["model=resnet", "objective=mmd"], True),
    "ae_mle": (["model=ae", "objective=mle", *RESNET_AE], False),
    "vae_mle": (["model=vae", "objective=mle", *RESNET_AE], True),
    "ae_mmd": (["model=ae", "objective=mmd", *RESNET_AE], False),
    "vae_mmd": (["model=vae", "objective=mmd", *RESNET_AE], False),
    "ae_adversarial": (
        ["model=ae", "objective=adversarial", *RESNET_AE, "objective.critic.hidden=16"],
        True,
    ),
    "vae_adversarial": (["model=vae", "objective=adversarial", *RESNET_AE, *CRITIC], False),
}
CASES = [(p, False) for p in PAIRS] + [(p, True) for p, (_, cond) in PAIRS.items() if cond]


@pytest.mark.slow
@pytest.mark.parametrize(("pair", "conditional"), CASES)
def test_residual_pair_trains(pair, conditional, mnist_root, tmp_path):
    overrides = [
        *PAIRS[pair][0],
        "trainer.rounds=3",
        "trainer.sample_at=[3]",
        f"conditional={str(conditional).lower()}",
    ]
    summary = tiny_train(overrides, tmp_path, mnist_root)
    assert summary["status"] == "done" and summary["rounds"] == 3
    assert all(torch.isfinite(torch.tensor(v)) for v in summary["final"].values())
    assert (tmp_path / "samples" / "round_000003.png").is_file()
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    keys = " ".join(ckpt["model"])
    assert "blocks" in keys, keys[:200]  # residual blocks, not the DCGAN stacks


@pytest.mark.slow
def test_residual_gan_under_mle_is_refused_in_one_line(mnist_root, tmp_path):
    with pytest.raises(UserError, match="model=resnet objective=mle .* model.backbone=resnet"):
        tiny_train(["model=resnet", "objective=mle", "trainer.rounds=1"], tmp_path, mnist_root)
