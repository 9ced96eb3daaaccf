"""Anti-collapse image critics: PacGAN packing and ProGAN's minibatch standard deviation, their
shapes and closed cases, their start-up refusals, and training with every adversarial option."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from helpers import compose_cfg, one_error_line, run_cli, tiny_train, without_hydra

from gantrain.commands.train import schema
from gantrain.errors import UserError
from gantrain.models.anticollapse import EPS, MinibatchStd, pack
from gantrain.models.dcgan import DCGANCritic
from gantrain.objectives.penalties import CriticPenalties

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]
PACKED = ["objective.critic.packing=2", "objective.critic.mbstd=true"]


# ---- packing ----


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 3)])
def test_a_pack_of_two_gives_one_score_per_pack_from_twice_the_channels(size, channels):
    critic = DCGANCritic(size, channels, width=8, max_width=16, packing=2)
    assert critic.net[0].in_channels == 2 * channels
    assert critic(torch.randn(8, channels, size, size)).shape == (4,)


def test_packing_concatenates_consecutive_samples_along_the_channels():
    x = torch.randn(1, 3, 5, 5)
    assert torch.equal(pack(x.repeat(4, 1, 1, 1), 4), torch.cat([x] * 4, 1))
    batch = torch.randn(6, 2, 4, 4)
    packed = pack(batch, 2)  # (3, 4, 4, 4)
    for i in range(3):
        assert torch.equal(packed[i], torch.cat([batch[2 * i], batch[2 * i + 1]], 0))
    assert pack(batch, 1) is batch


def test_a_packed_conditional_critic_sums_its_members_projection_terms():
    torch.manual_seed(0)
    critic = DCGANCritic(28, 1, width=8, max_width=16, norm="layer", num_classes=4, packing=2)
    nn_init = torch.nn.init
    nn_init.normal_(critic.projection.weight, 0.0, 1.0)  # terms large enough to tell apart
    x = torch.randn(2, 1, 28, 28)

    def score(a, b):
        return critic(x, torch.tensor([a, b])).item()

    # the order of a pack's labels does not matter, and each member's term adds on its own
    assert score(1, 3) == pytest.approx(score(3, 1), abs=1e-5)
    assert score(1, 3) - score(0, 3) == pytest.approx(score(1, 2) - score(0, 2), abs=1e-4)
    assert abs(score(1, 3) - score(0, 3)) > 1e-3


# ---- minibatch standard deviation ----


def test_the_std_map_of_identical_samples_is_zero_up_to_the_eps_and_has_a_gradient():
    h = torch.randn(1, 3, 4, 4).repeat(8, 1, 1, 1).requires_grad_(True)
    out = MinibatchStd(4)(h)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], h)
    assert torch.allclose(out[:, 3], torch.full((8, 4, 4), math.sqrt(EPS)))
    (grad,) = torch.autograd.grad(out[:, 3].sum(), h)
    assert torch.isfinite(grad).all()


def test_the_std_map_is_the_groups_std_averaged_over_channels_and_pixels():
    a = torch.tensor([1.0, 3.0, 0.0, 4.0])
    # channel 0 holds a_i everywhere, channel 1 holds 2 a_i: stds s and 2s, mean 1.5 s
    h = torch.stack([a, 2 * a], 1).view(4, 2, 1, 1).expand(4, 2, 3, 3).contiguous()
    pairs = MinibatchStd(2)(h)[:, 2]  # groups {1, 3} (std 1) and {0, 4} (std 2)
    want = torch.tensor([1.5, 1.5, 3.0, 3.0]).view(4, 1, 1)
    assert torch.allclose(pairs, want.expand(4, 3, 3), atol=1e-6)
    whole = MinibatchStd(0)(h)[:, 2]  # all four: population std sqrt(2.5)
    assert torch.allclose(whole, torch.full((4, 3, 3), 1.5 * math.sqrt(2.5)), atol=1e-6)
    assert torch.equal(MinibatchStd(None)(h), MinibatchStd(0)(h))
    assert torch.equal(MinibatchStd(16)(h), MinibatchStd(0)(h))  # min(group, batch)


def test_the_critic_reads_the_std_map_before_its_last_layer():
    critic = DCGANCritic(28, 1, width=8, max_width=16, mbstd=True, mbstd_group=4)
    assert isinstance(critic.net[-2], MinibatchStd)
    assert critic.net[-1].in_channels == 16 + 1
    assert critic(torch.randn(8, 1, 28, 28)).shape == (8,)
    packed = DCGANCritic(28, 1, width=8, max_width=16, packing=2, mbstd=True, num_classes=3)
    assert packed.projection.weight.shape[1] == 17 * 7 * 7  # the std map is a feature too
    assert packed(torch.randn(8, 1, 28, 28), torch.arange(8) % 3).shape == (4,)


# ---- penalties on packs ----


def test_penalties_take_each_packs_gradient_as_one():
    w = torch.tensor([3.0, 0.0, 0.0, 4.0])  # a linear critic on packs of two 2-d samples

    def critic(x):
        return pack(x.view(-1, 2, 1, 1), 2).flatten(1) @ w

    real = torch.randn(6, 2)
    _, logs = CriticPenalties(r1=1.0)(critic, real, real, pack=2)
    assert logs["r1_penalty"].item() == pytest.approx(12.5)  # |w|^2 / 2 per pack
    assert logs["critic_grad_norm"].item() == pytest.approx(5.0)
    _, logs = CriticPenalties(gradient=1.0)(critic, real, real, pack=2)
    assert logs["gradient_penalty"].item() == pytest.approx(16.0)  # (|w| - 1)^2


def test_an_interpolated_pack_lies_between_a_real_pack_and_a_fake_one():
    seen = []

    def critic(x):
        seen.append(x.detach())
        return x.view(x.shape[0] // 2, -1).sum(1)

    real, fake = torch.ones(8, 1, 2, 2), torch.zeros(8, 1, 2, 2)
    CriticPenalties(gradient=1.0)(critic, real, fake, pack=2)
    eps = seen[0].view(4, 2, 4)  # x^ = eps real + (1 - eps) fake = eps, per pack
    assert torch.equal(eps, eps[:, :1, :1].expand(4, 2, 4))
    assert eps.flatten().unique().numel() == 4


@pytest.mark.slow
def test_ada_counts_the_images_of_a_packing_critic_not_its_packs():
    from gantrain.config import build

    torch.manual_seed(0)
    cfg = without_hydra(
        compose_cfg(
            [
                "device=cpu",
                "model.width=8",
                "model.max_width=16",
                *CRITIC,
                "objective.augment.kind=ada",
                *PACKED,
            ]
        )
    )
    model, objective = build(cfg.model), build(cfg.objective)
    objective.bind(model)
    objective.run_round(model, lambda: torch.rand(16, 1, 28, 28) * 2 - 1)
    assert objective.augment.seen.item() == 16


# ---- refusals ----


@pytest.mark.parametrize(
    ("keys", "names"),
    [
        ({"packing": 3}, ["objective.critic.packing=3", "trainer.batch_size=16", "packing=2"]),
        ({"mbstd": True, "mbstd_group": 5}, ["objective.critic.mbstd_group=5", "group=4"]),
        ({"packing": 2, "mbstd": True, "mbstd_group": 3}, ["mbstd_group=3", "8 packs", "group=2"]),
    ],
)
def test_a_batch_the_packs_or_groups_do_not_divide_is_refused_in_one_line(keys, names):
    critic = DCGANCritic(28, 1, width=8, max_width=16, **keys)
    with pytest.raises(UserError) as err:
        critic.check_batch(16)
    assert "\n" not in str(err.value) and all(n in str(err.value) for n in names)
    critic.check_batch(60)  # divided by every pack and group above


def test_batches_that_fit_are_taken():
    DCGANCritic(28, 1, packing=4, mbstd=True, mbstd_group=4).check_batch(16)
    DCGANCritic(28, 1, packing=2, mbstd=True, mbstd_group=16).check_batch(16)  # min(16, 8)
    DCGANCritic(28, 1, mbstd=True, mbstd_group=0).check_batch(7)
    DCGANCritic(28, 1, mbstd=False, mbstd_group=5).check_batch(16)  # off: no groups


@pytest.mark.parametrize(
    "key",
    ["objective.critic.packing=0", "objective.critic.mbstd=1", "objective.critic.mbstd_group=-1"],
)
def test_the_schema_refuses_values_of_the_wrong_kind(key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        schema().check(without_hydra(compose_cfg([key])))


@pytest.mark.slow
def test_the_command_line_refuses_a_pack_that_does_not_divide_the_batch(mnist_root, tmp_path):
    run = tmp_path / "run"
    args = [
        f"dataset.root={mnist_root}",
        "device=cpu",
        "trainer.batch_size=16",
        *CRITIC,
        "objective.critic.packing=3",
        "trainer.rounds=2",
        f"hydra.run.dir={run}",
    ]
    out = run_cli(args, tmp_path)
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert "objective.critic.packing=3" in line and "trainer.batch_size=16" in line
    assert not run.exists()  # refused before training: nothing left behind


# ---- training with every option they compose with ----

RUNS = {
    "dcgan_pack": ["objective.critic.packing=2"],
    "dcgan_mbstd": ["objective.critic.mbstd=true"],
    "vae_gan": ["model=vae", "objective=adversarial", *PACKED],
    "conditional": ["conditional=true", *PACKED],
    "r1": ["objective.penalties.r1=1", *PACKED],
    "wgan_gp": [
        "objective.loss.kind=wasserstein",
        "objective.penalties.gradient=1",
        "objective.critic.norm=layer",
        *PACKED,
    ],
    "spectral_hinge": ["objective.loss.kind=hinge", "objective.critic.norm=spectral", *PACKED],
    "diffaug": ["objective.augment.kind=diffaug", *PACKED],
    "ada": ["objective.augment.kind=ada", "objective.augment.ada_kimg=0.1", *PACKED],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_anticollapse_critics_train_with_every_option(name, mnist_root, tmp_path):
    extra = [*CRITIC, "trainer.rounds=4", "trainer.sample_at=[4]", "eval.at=[]", *RUNS[name]]
    summary = tiny_train(extra, tmp_path, mnist_root)
    assert summary["status"] == "done"
    logs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert len(logs) == 4 and all(math.isfinite(r["loss_d"]) for r in logs)
    if "r1" in name:
        assert all(r["r1_penalty"] > 0 for r in logs)
    if "gp" in name:
        assert all(r["gradient_penalty"] >= 0 for r in logs)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    first = next(
        v for k, v in ckpt["objective"]["critic"].items() if k.startswith("net.0.") and v.dim() == 4
    )
    assert first.shape[1] == (2 if "packing=2" in " ".join(RUNS[name]) else 1)


def _resume_helpers():
    """tests/training/test_resume.py's run arguments, kill-and-resume and comparison."""
    path = Path(__file__).resolve().parents[1] / "training" / "test_resume.py"
    spec = importlib.util.spec_from_file_location("resume_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sigkill_resume_identity_with_a_packing_std_critic(mnist_root, tmp_path):
    resume = _resume_helpers()
    extra = [*PACKED, "conditional=true"]
    out = run_cli(resume._args(mnist_root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    run = tmp_path / "b"
    resume._kill_and_resume(resume._args(mnist_root, run, extra=extra), run, tmp_path, 10)
    resume._assert_same_run(tmp_path / "a", run)
    assert resume._weights(run)["critic.net.0.weight"].shape[1] == 2
