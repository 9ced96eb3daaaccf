"""Augmentation of what an image critic sees: each transform's effect, differentiability, the
identity at p = 0, ADA's control of p, and that every image the critic sees passes through it."""

import pytest
import torch
from helpers import compose_cfg, names_of

from gantrain.config import build
from gantrain.errors import UserError
from gantrain.objectives.ada import ada_augment
from gantrain.objectives.augment import Augment
from gantrain.objectives.diffaug import color, cutout, diff_augment, translation


def images(b=8, c=1, s=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, s, s, generator=g) * 2 - 1


def test_translation_shifts_whole_pixels_and_fills_with_zero():
    torch.manual_seed(0)
    x = images(b=64)
    out = translation(x, 0.25)  # up to 4 of 16 pixels either way
    assert out.shape == x.shape
    for orig, moved in zip(x, out):
        found = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if torch.equal(
                moved[0, max(0, -dy) : 16 - max(0, dy), max(0, -dx) : 16 - max(0, dx)],
                orig[0, max(0, dy) : 16 + min(0, dy), max(0, dx) : 16 + min(0, dx)],
            )
        ]
        assert found, "each image is a whole-pixel shift of its original"
    assert (out == 0).any() and torch.equal(translation(x, 0.0), x)


def test_cutout_zeroes_one_square_per_image():
    torch.manual_seed(0)
    x = images(b=32) * 0.5 + 0.6  # no zeros of its own
    out = cutout(x, 0.25)  # a 4x4 square, which may overhang the edge
    holes = (out == 0).sum(dim=(1, 2, 3))
    assert holes.max() == 16 and holes.min() >= 4
    assert torch.equal(out[out != 0], x[out != 0])


@pytest.mark.parametrize("channels", [1, 3])
def test_color_changes_images_and_strength_zero_does_not(channels):
    torch.manual_seed(0)
    x = images(c=channels)
    out = color(x, 1.0)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert torch.allclose(color(x, 0.0), x, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_ada_is_the_identity_at_p_zero_and_changes_images_at_one(channels):
    torch.manual_seed(0)
    x = images(c=channels)
    assert torch.allclose(ada_augment(x, torch.tensor(0.0)), x, atol=1e-5)
    moved = ada_augment(x, torch.tensor(1.0))
    assert moved.shape == x.shape and (moved - x).abs().mean() > 0.1


@pytest.mark.parametrize(
    "augment",
    [
        lambda x: diff_augment(x, {"color": 1, "translation": 0.125, "cutout": 0.5}),
        lambda x: ada_augment(x, torch.tensor(0.7)),
    ],
)
def test_gradients_reach_the_images(augment):
    torch.manual_seed(0)
    x = images(c=3).requires_grad_(True)
    augment(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ada_moves_p_every_interval_by_the_images_seen():
    aug = Augment("ada", ada_target=0.6, ada_kimg=1.0)  # 1,000 images from 0 to 1
    for rnd in range(1, 9):
        aug.observe(torch.ones(50))  # r_t = 1 > 0.6: the critic overfits, p goes up
        logs = aug.end_round()
        expected = 0.0 if rnd < 4 else (0.2 if rnd < 8 else 0.4)  # 4 rounds x 50 images
        assert logs["ada_p"].item() == pytest.approx(expected)
    for _ in range(12):
        aug.observe(-torch.ones(50))  # r_t = -1 < 0.6: p comes down, no lower than 0
        aug.end_round()
    assert aug.p.item() == 0.0


def test_the_default_diffaug_policy_follows_the_channels():
    grey, colour = Augment("diffaug"), Augment("diffaug", {"cutout": 0.25})
    grey(images(c=1)), colour(images(c=3))
    assert grey.policy == {"color": 0.0, "translation": 0.125, "cutout": 0.0}
    assert colour.policy == {"color": 1.0, "translation": 0.125, "cutout": 0.25}


@pytest.mark.parametrize("model", ["dcgan", "vae"])
@pytest.mark.parametrize("kind", ["diffaug", "ada"])
def test_every_image_the_critic_sees_is_augmented(model, kind, mnist_root):
    """Per round: the real and the fake batch of the critic step and the fake of the generator
    step, each once; and what the critic scores is what came out of the augmentation."""
    cfg = compose_cfg(
        [
            f"model={model}",
            "objective=adversarial",
            f"objective.augment.kind={kind}",
            f"dataset.root={mnist_root}",
            "model.width=8",
            "model.max_width=16",
            "objective.critic.width=8",
            "objective.critic.max_width=16",
        ]
    )
    net, objective = build(cfg.model), build(cfg.objective)
    objective.bind(net)
    augmented, scored = [], []
    forward = objective.augment.forward
    objective.augment.forward = lambda x: augmented.append(forward(x)) or augmented[-1]
    objective.critic.register_forward_hook(lambda m, args, out: scored.append(args[0]))
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    logs = objective.run_round(net, lambda: x)
    assert len(augmented) == 3 and len(scored) == 3
    assert all(s is a for s, a in zip(scored, augmented))
    assert ("ada_p" in logs) == (kind == "ada")


def test_a_critic_on_codes_is_refused_in_one_line():
    cfg = compose_cfg(["model=ae", "objective=adversarial", "objective.augment.kind=ada"])
    assert names_of(cfg)["model"] == "ae"
    with pytest.raises(UserError, match="critic on codes"):
        build(cfg.objective)
