"""FID/KID during training, and the EMA weights that pictures and scores use."""

import json

import pytest
import torch
from helpers import compose_cfg, tiny_train, without_hydra

from gantrain.commands.train import schema
from gantrain.errors import UserError
from gantrain.training.evaluation import EvalSettings

FAST_EVAL = [
    "eval.num_samples=24",
    "eval.kid_subsets=3",
    "eval.classifier.steps=20",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
]


def test_default_rounds_are_milestones_from_1000():
    assert EvalSettings(at=None).rounds([100, 1000, 2000, 5000], 2000) == [1000, 2000]
    assert EvalSettings(at=[]).rounds([100, 1000], 5000) == []
    assert EvalSettings(at=[5, 3, 9]).rounds([100], 6) == [3, 5]


@pytest.mark.parametrize("bad", ["[0]", "[1,x]", "5", "[1.5]"])
def test_bad_eval_rounds(bad):
    with pytest.raises(UserError, match="eval.at"):
        schema().check(without_hydra(compose_cfg([f"eval.at={bad}"])))


def test_fid_is_logged_at_the_eval_rounds(mnist_root, tmp_path):
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
