"""A tiny Stacked MNIST run end to end: training with its evaluation's modes, gantrain-eval's
modes count on more samples than FID reads, and a conditional run over the 1,000 classes."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import tiny_train
from test_sample_eval import call

from gantrain.commands import evaluate as eval_cli

STACKED = [
    "dataset=stacked_mnist",
    "dataset.size=200",
    "dataset.download=false",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
    "trainer.rounds=3",
    "trainer.sample_at=[3]",
    "eval.at=[3]",
    "eval.num_samples=20",
    "eval.modes_samples=50",
    "eval.kid_subsets=2",
    "eval.classifier.steps=5",
    "eval.classifier.batch_size=16",
]


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_stacked_run_counts_modes_in_training_and_in_gantrain_eval(
    mnist_root, tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    summary = tiny_train(STACKED, run, mnist_root)
    assert summary["status"] == "done"
    row = _rows(run)[-1]
    assert row["round"] == 3 and 1 <= row["modes"] <= 50 and row["modes_kl"] >= 0
    assert row["modes_samples"] == 50 and row["num_samples"] == 20
    assert 1 <= row["modes_judge2"] <= 50 and row["modes_kl_judge2"] >= 0
    assert 0 < row["confidence_judge2"] <= 1 and 0 < row["real_confidence"] <= 1
    args = [
        f"run_dir={run}",
        "num_samples=20",
        "modes_samples=60",
        "kid_subsets=2",
        "classifier.steps=5",
        "classifier.batch_size=16",
        "device=cpu",
    ]
    code, printed, _ = call(eval_cli, args, monkeypatch, capsys)
    assert code == 0
    record = json.loads((run / "eval.json").read_text())
    assert record["num_samples"] == 20 and record["modes_samples"] == 60
    assert record["modes_protocol"]["num_samples"] == 60
    assert 0 <= record["modes_protocol"]["classifier_test_accuracy"] <= 1
    assert record["extractor"]["feature_dim"] == 384 and "class_histogram" not in record
    assert f"modes {record['modes']}/1000" in printed and "60 samples" in printed
    assert f"modes {record['modes_judge2']}  KL {record['modes_kl_judge2']:.4f}" in printed


@pytest.mark.slow
def test_a_conditional_stacked_run_has_the_thousand_classes(mnist_root, tmp_path):
    run = tmp_path / "run"
    tiny_train([*STACKED, "conditional=true", "eval.at=[]"], run, mnist_root)
    assert json.loads((run / "summary.json").read_text())["status"] == "done"
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert len(ckpt["classes"]) == 1000 and ckpt["classes"][417] == "417"


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["resnet_stacked_mnist", "r3gan_stacked_mnist"])
def test_the_residual_stacked_presets_train(preset, mnist_root, tmp_path):
    # the presets as written (losses, penalties, critic norm, 32 px), with tiny widths
    overrides = [
        f"experiment={preset}",
        *STACKED,
        "eval.at=[]",
        "model.width=8",
        "model.max_width=16",
    ]
    summary = tiny_train(overrides, tmp_path, mnist_root)
    assert summary["status"] == "done" and summary["rounds"] == 3
    assert all(torch.isfinite(torch.tensor(v)) for v in summary["final"].values())
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["config"]["dataset"]["image_size"] == 32
    assert ckpt["config"]["model"]["_target_"].endswith("ResNetGAN")


@pytest.mark.slow
def test_the_stacked_preset_trains_its_mix(mnist_root, tmp_path):
    # DCGAN's generator against R3GAN's critic, the relativistic loss and R1/R2 held at 0.5
    overrides = ["experiment=stacked_mnist", *STACKED, "eval.at=[]", "model.width=8"]
    summary = tiny_train([*overrides, "model.max_width=16"], tmp_path, mnist_root)
    assert summary["status"] == "done" and summary["rounds"] == 3
    ckpt = torch.load(tmp_path / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert ckpt["config"]["model"]["_target_"].endswith("DCGAN")
    assert ckpt["config"]["objective"]["critic"]["_target_"].endswith("R3Critic")
    rows = [r for r in _rows(tmp_path) if "schedule_gamma" in r]
    assert rows and all(r["schedule_gamma"] == pytest.approx(0.5) for r in rows)
    assert all(r["schedule_lr"] == pytest.approx(2e-3) for r in rows)
    assert all(torch.isfinite(torch.tensor(v)) for v in summary["final"].values())
