"""FID/KID during training, and the EMA weights that pictures and scores use."""

import json
import logging

import pytest
import torch
from helpers import compose_cfg, tiny_train, without_hydra

from gantrain.errors import UserError
from gantrain.training.evaluation import EvalSettings, plan_line
from gantrain.training.keys import schema

FAST_EVAL = [
    "eval.num_samples=24",
    "eval.kid_subsets=3",
    "eval.classifier.steps=20",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
]


MILESTONES = [100, 1000, 2000, 5000, 10000, 20000, 50000]


def test_default_rounds_are_a_round_number_grid_from_1000():
    assert EvalSettings(at=None).rounds(MILESTONES, 2000) == [1000, 1200, 1400, 1600, 1800, 2000]
    assert EvalSettings(at=None).rounds(MILESTONES, 50000) == [
        1000,
        2000,
        5000,
        *range(10000, 50001, 5000),
    ]
    assert EvalSettings(at=None).rounds(MILESTONES, 2500)[-2:] == [2400, 2500]  # the last round
    assert EvalSettings(at=None).rounds(MILESTONES, 999) == []  # before 1000 samples are noise
    assert EvalSettings(at=[]).rounds([100, 1000], 5000) == []
    assert EvalSettings(at=[5, 3, 9]).rounds([100], 6) == [3, 5]


@pytest.mark.parametrize("rounds", [1005, 1200, 2000, 3000, 5000, 7777, 20000, 50000, 10**6])
def test_default_rounds_give_tensorboard_a_line(rounds):
    """TensorBoard's outlier-ignoring scale keeps the points strictly between the 5th and 95th
    percentiles: two evaluations leave none (an empty chart), a few leave the middle only."""
    chosen = EvalSettings(at=None).rounds(MILESTONES, rounds)
    assert 6 <= len(chosen) <= 20  # a few seconds each on a CPU
    assert chosen[0] == 1000 and chosen[-1] == rounds


def test_the_plan_line_is_words():
    info = {
        "extractor": {
            "name": "classifier",
            "feature_dim": 128,
            "test_accuracy": 0.986,
            "file": "/data/.gantrain/classifier-mnist-28px-1ch-4681f0.pt",
            "recipe": {"steps": 1000},
            "trained": False,
        },
        "reference_images": 10000,
        "dataset": "mnist",
        "split": "test",
    }
    line = plan_line([1000, 1500, 2000], 1000, info)
    assert line == (
        "evaluating at rounds 1000, 1500 and 2000: FID/KID of 1,000 samples against 10,000 "
        "mnist test images, in the features of classifier-mnist-28px-1ch-4681f0.pt "
        "(98.6% test accuracy)"
    )
    many = plan_line(list(range(100, 2001, 100)), 10, {"reference_images": 5})
    assert many.startswith("evaluating at 20 rounds (100, 200, 300, ..., 1900, 2000): ")


@pytest.mark.parametrize("bad", ["[0]", "[1,x]", "5", "[1.5]"])
def test_bad_eval_rounds(bad):
    with pytest.raises(UserError, match="eval.at"):
        schema().check(without_hydra(compose_cfg([f"eval.at={bad}"])))


def test_fid_is_logged_at_the_eval_rounds(mnist_root, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="gantrain")
    summary = tiny_train(
        [
            "trainer.rounds=4",
            "trainer.sample_at=[2,4]",
            "eval.at=[2,4]",
            "trainer.log_every=3",
            *FAST_EVAL,
        ],
        tmp_path,
        mnist_root,
    )
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    with_fid = [r["round"] for r in rows if "fid" in r]
    assert with_fid == [2, 4]
    assert all(r["fid"] > 0 and "kid" in r and "classes_present" in r for r in rows if "fid" in r)
    assert summary["final"]["fid"] == rows[-1]["fid"]
    assert summary["eval_s"] > 0
    plan = [r.getMessage() for r in caplog.records if r.getMessage().startswith("evaluating")]
    assert len(plan) == 1 and plan[0].startswith("evaluating at rounds 2 and 4: FID/KID of 24 ")
    assert "{" not in plan[0] and "classifier-" in plan[0]


def test_ema_weights_are_saved_and_drawn(mnist_root, tmp_path):
    tiny_train(
        [
            "trainer.rounds=3",
            "trainer.sample_at=[3]",
            "trainer.ema_decay=0.5",
            "objective.critic.width=8",
        ],
        tmp_path,
        mnist_root,
    )
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    raw, ema = ckpt["model"], ckpt["ema"]
    assert raw.keys() == ema.keys()
    changed = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], ema[k])]
    assert changed  # an average of past weights differs from the current ones


def test_bad_ema_decay_is_refused(mnist_root, tmp_path):
    with pytest.raises(UserError, match="trainer.ema_decay=1.5"):
        tiny_train(["trainer.rounds=1", "trainer.ema_decay=1.5"], tmp_path, mnist_root)


def test_a_run_too_short_for_the_default_schedule_says_how_to_get_one():
    from gantrain.training.evaluation import too_short_line

    line = too_short_line(EvalSettings(), 300)
    assert "300 rounds is too short for the default eval schedule" in line
    assert "eval.at=[300]" in line
    assert too_short_line(EvalSettings(), 1000) is None
    assert too_short_line(EvalSettings(at=[]), 300) is None  # evaluations turned off on purpose
