"""gantrain-report's pictures of a sweep: final grids side by side, and FID or loss curves."""

from __future__ import annotations

import json

from helpers import run_cli
from PIL import Image

from gantrain.record.report_pictures import curves_picture, grids_picture

TINY = ["device=cpu", "trainer.rounds=4", "trainer.sample_at=[2,4]", "trainer.batch_size=16",
        "model.width=8", "model.max_width=16", "objective.critic.width=8",
        "objective.critic.max_width=16", "eval.at=[2,4]", "eval.num_samples=24",
        "eval.kid_subsets=3", "eval.classifier.steps=20"]  # fmt: skip


def test_report_of_a_four_job_sweep_draws_grids_and_curves(mnist_root, tmp_path):
    args = ["-m", "objective.loss=bce,hinge", "seed=0,1", f"dataset.root={mnist_root}", *TINY,
            "hydra.sweep.dir=sw"]  # fmt: skip
    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = run_cli([str(tmp_path / "sw")], tmp_path, script="gantrain-report")
    assert out.returncode == 0, out.stderr
    sweep = tmp_path / "sw"
    grids = Image.open(sweep / "report_grids.png")
    assert grids.width == 4 * 300  # four panels in a row, 3 inches at 100 dpi each
    assert Image.open(sweep / "report_curves.png").size == (600, 400)
    md = (sweep / "report.md").read_text()
    assert "![report_grids](report_grids.png)" in md and "(report_curves.png)" in md


def _job(folder, rows, grid=True):
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"rou')
    if grid:
        (folder / "samples").mkdir()
        for rnd in (2, 10):
            Image.new("RGB", (16, 16), (rnd * 20, 0, 0)).save(
                folder / "samples" / f"round_{rnd:06d}.png"
            )
    return folder


def test_curves_fall_back_to_the_loss_and_grids_skip_jobs_without_one(tmp_path):
    a = _job(tmp_path / "a", [{"round": r, "loss": 1 / r} for r in (1, 2, 3)])
    b = _job(tmp_path / "b", [{"round": r, "loss": 2 / r} for r in (1, 2, 3)], grid=False)
    assert curves_picture([("a", a), ("b", b)], tmp_path / "c.png") == tmp_path / "c.png"
    assert grids_picture([("a", a, None), ("b", b, 3.0)], tmp_path / "g.png") == tmp_path / "g.png"
    assert Image.open(tmp_path / "g.png").width == 300  # only a's panel
    assert grids_picture([("b", b, 3.0)], tmp_path / "none.png") is None
    assert curves_picture([("e", _job(tmp_path / "e", []))], tmp_path / "e.png") is None
