"""Stacked MNIST mode coverage: closed cases of modes and KL, the per-channel classifier, and the
modes counted on more samples than FID reads."""

from __future__ import annotations

import math

import torch
from torch import nn

from gantrain.commands.evaluate import summary_line
from gantrain.metrics.extractors import StackedFeatures
from gantrain.metrics.judges import judges_line
from gantrain.metrics.modes import expected_uniform, mode_scores
from gantrain.metrics.scores import Scorer


def one_hot(modes: torch.Tensor, k: int = 1000) -> torch.Tensor:
    return torch.nn.functional.one_hot(modes, k).float()


def test_all_modes_equally_gives_1000_and_kl_zero():
    got = mode_scores(one_hot(torch.arange(1000).repeat(3)))
    assert got["modes"] == 1000 and abs(got["modes_kl"]) < 1e-12


def test_one_mode_gives_one_and_log_1000():
    got = mode_scores(one_hot(torch.full((3000,), 417)))
    assert got["modes"] == 1 and math.isclose(got["modes_kl"], math.log(1000))


def test_half_the_modes_gives_log_2():
    got = mode_scores(one_hot(torch.arange(0, 1000, 2).repeat(4)))
    assert got["modes"] == 500 and math.isclose(got["modes_kl"], math.log(2))
    assert round(expected_uniform(26000)) == 1000 and 600 < expected_uniform(1000) < 650


def test_the_kl_splits_into_digit_balance_and_the_channels_dependence():
    # the red digit always 3, green and blue free and independent: all of the KL is balance
    red_fixed = mode_scores(one_hot(300 + torch.arange(100).repeat(5)))
    assert red_fixed["modes"] == 100 and math.isclose(red_fixed["modes_kl"], math.log(10))
    assert math.isclose(red_fixed["modes_kl_digits"], math.log(10))
    # 000, 111, ..., 999: every channel draws each digit equally often, but one digit sets all
    # three: none of the KL is balance
    tied = mode_scores(one_hot((111 * torch.arange(10)).repeat(7)))
    assert tied["modes"] == 10 and math.isclose(tied["modes_kl"], math.log(100))
    assert abs(tied["modes_kl_digits"]) < 1e-12
    line = judges_line(
        {
            **{f"{k}{suffix}": v for k, v in tied.items() for suffix in ("", "_judge2")},
            **{f"{k}{s}": 0.9 for k in ("confidence", "real_confidence") for s in ("", "_judge2")},
            "judges_agreement": 1.0,
        }
    )
    assert line.count("(digit balance 0.0000 + channels' dependence 4.6052)") == 2


class Brightness(nn.Module):
    """A stand-in digit classifier: reads digit d from a channel of constant value 20 d."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        level = x.float().mean((1, 2, 3))  # (B,)
        logits = -(level[:, None] - 20 * torch.arange(10.0)).abs() * self.scale
        return torch.stack([level] * 4, 1), logits


def test_each_channel_is_read_and_the_modes_multiply():
    digits = torch.tensor([[3, 0, 7], [9, 9, 9], [0, 4, 1]])
    images = (20 * digits)[:, :, None, None].expand(-1, -1, 8, 8).to(torch.uint8).contiguous()
    feats, probs = StackedFeatures(Brightness(), {})(images)
    assert feats.shape == (3, 12) and probs.shape == (3, 1000)
    assert probs.argmax(1).tolist() == [307, 999, 41]
    assert torch.allclose(probs.sum(1), torch.ones(3))


class Given:
    """An extractor whose samples carry their mode in their first pixel."""

    modes = True
    info = {"name": "classifier"}

    def __call__(self, images):
        feats = images.flatten(1).double()
        return feats, one_hot((images[:, 0, 0, 0].long() * 4 + images[:, 0, 0, 1].long()) % 1000)


def test_modes_read_every_sample_and_fid_the_first():
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 250, (40, 3, 2, 2), generator=g, dtype=torch.uint8)
    scorer = Scorer(Given(), real, kid_subsets=2, kid_subset_size=10)
    fake = torch.randint(0, 250, (400, 3, 2, 2), generator=g, dtype=torch.uint8)
    fake[:, 0, 0, 0] = torch.arange(400) % 200
    fake[:, 0, 0, 1] = 0
    got = scorer.score_images(fake, first=30)
    assert got["num_samples"] == 30 and got["modes_samples"] == 400
    assert got["modes"] == 200 and "class_histogram" not in got
    assert math.isclose(got["modes_kl"], math.log(1000 / 200))
    line = summary_line(
        {
            **got,
            "extractor": {"name": "classifier"},
            "eval_s": 1.0,
            "round": 3,
            "weights": "ema",
            "reference": {"num_images": 40, "dataset": "stacked_mnist", "split": "test"},
        }
    )
    assert "modes 200/1000" in line and "400 samples" in line
