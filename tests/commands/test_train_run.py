"""A few-round run through the real CLI writes the whole run-directory contract."""

import json

import pytest
import torch
from helpers import run_cli
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


@pytest.fixture(scope="module")
def run_dir(mnist_root, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    out = run_cli(
        [
            f"dataset.root={mnist_root}",
            "device=cpu",
            "trainer.rounds=6",
            "trainer.batch_size=16",
            "trainer.sample_at=[1,3,6,50]",
            "trainer.log_every=2",
            "model.width=8",
            "model.max_width=16",
            "objective.critic.width=8",
            "objective.critic.max_width=16",
            "hydra.run.dir=run",
        ],
        cwd,
    )
    assert out.returncode == 0, out.stderr
    return cwd / "run"


@pytest.mark.slow
def test_grids_at_milestones_only_up_to_rounds(run_dir):
    names = sorted(p.name for p in (run_dir / "samples").glob("round_*.png"))
    assert names == ["round_000001.png", "round_000003.png", "round_000006.png"]
    grid = Image.open(run_dir / "samples" / "round_000006.png")
    assert grid.size == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)  # make_grid: 8x8, padding 2


def test_evolution_shows_every_milestone_side_by_side(run_dir):
    evo = Image.open(run_dir / "samples" / "evolution.png")
    one = Image.open(run_dir / "samples" / "round_000001.png")
    assert evo.width >= 3 * one.width and evo.height > one.height


def test_tensorboard_has_scalars_and_images(run_dir):
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    for name in ("loss_d", "loss_g", "d_real", "d_fake"):
        assert f"train/{name}" in tags["scalars"]
    assert [e.step for e in acc.Scalars("train/loss_d")] == [1, 2, 3, 4, 6]
    assert [e.step for e in acc.Images("samples")] == [1, 3, 6]


def test_metrics_jsonl_one_object_per_logged_round(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [1, 2, 3, 4, 6]
    assert 0 < rows[-1]["d_real"] < 1 and rows[-1]["loss_d"] > 0


def test_checkpoint_loads_weights_only_and_has_everything(run_dir):
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["round"] == 6
    for key in ("model", "objective", "rng", "noise", "config", "data"):
        assert key in ckpt
    assert ckpt["noise"].shape == (64, 100)
    assert {"optimizer", "critic_optimizer", "critic"} <= set(ckpt["objective"])
    assert ckpt["config"]["trainer"]["rounds"] == 6
    assert not list((run_dir / "checkpoints").glob("*.tmp"))


def test_summary_and_logs(run_dir):
    s = json.loads((run_dir / "summary.json").read_text())
    assert s["status"] == "done" and s["rounds"] == 6 and s["device"] == "cpu"
    assert s["rounds_per_s"] > 0 and s["wall_s"] > 0
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "picked" not in (run_dir / "train.log").read_text()  # device=cpu was explicit
    assert "round 6/6" in (run_dir / "train.log").read_text()  # plain lines when not a TTY


@pytest.mark.slow
def test_same_seed_same_grid(mnist_root, tmp_path):
    from helpers import tiny_train

    for name in ("a", "b"):
        tiny_train(
            ["trainer.rounds=3", "trainer.sample_at=[3]", "objective.critic.width=8"],
            tmp_path / name,
            mnist_root,
        )
    a = (tmp_path / "a" / "samples" / "round_000003.png").read_bytes()
    assert a == (tmp_path / "b" / "samples" / "round_000003.png").read_bytes()
