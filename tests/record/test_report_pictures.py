"""gantrain-report's pictures of a sweep: final grids side by side, and FID or loss curves."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli
from PIL import Image

from gantrain.commands.report import collect
from gantrain.record.report_pictures import curves, curves_picture, finals, grids_picture

# the README's sweep, tiny: two objectives that log different names (adversarial: loss_d,
# loss_g, d_real, d_fake; mmd: mmd, loss), no evaluation
SWEEP = [
    "-m",
    "objective=adversarial,mmd",
    "seed=0,1",
    "device=cpu",
    "trainer.rounds=4",
    "trainer.sample_at=[2,4]",
    "trainer.log_every=1",
    "trainer.batch_size=16",
    "model.width=8",
    "model.max_width=16",
    "eval.at=[]",
    "hydra.sweep.dir=sw",
]


@pytest.mark.slow
def test_report_of_two_objectives_draws_every_job(mnist_root, tmp_path):
    done = run_cli([*SWEEP, f"dataset.root={mnist_root}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = run_cli([str(tmp_path / "sw")], tmp_path, script="gantrain-report")
    assert out.returncode == 0, out.stderr
    sweep = tmp_path / "sw"
    grids = Image.open(sweep / "report_grids.png")
    assert grids.width == 4 * 300  # four panels in a row, 3 inches at 100 dpi each
    labels = {
        "0": "objective=adversarial seed=0",
        "1": "objective=adversarial seed=1",
        "2": "objective=mmd seed=0",
        "3": "objective=mmd seed=1",
    }
    drawn = curves([(label, sweep / job) for job, label in labels.items()])
    assert {m: [label for label, _ in series] for m, series in drawn.items()} == {
        "loss_d": [labels["0"], labels["1"]],
        "loss_g": [labels["0"], labels["1"]],  # the generator's loss beside the critic's
        "loss": [labels["2"], labels["3"]],
    }
    assert all(len(pts) == 4 for series in drawn.values() for _, pts in series)  # rounds 1-4
    assert Image.open(sweep / "report_curves.png").size == (3 * 600, 400)  # a panel a metric
    rows, _ = collect(sweep)
    # no metric is shared by both objectives: a picture of one dot per panel is not drawn
    assert finals(rows, "objective") == {}
    assert "no objective picture: no metric is shared by two values of objective" in out.stdout
    assert {m: [x for x, _ in pts] for m, pts in finals(rows, "seed").items()} == {
        "loss_d": ["0", "1"],
        "loss_g": ["0", "1"],
        "loss": ["0", "1"],
    }
    md = (sweep / "report.md").read_text()
    for picture in ("report_grids", "report_curves", "report_seed"):
        assert f"![{picture}]({picture}.png)" in md and (sweep / f"{picture}.png").is_file()
    assert not (sweep / "report_objective.png").exists() and "report_objective" not in md
    for job, label in labels.items():
        assert f"- [job {job}]({job}/) {label}: [final grid]({job}/samples/round_000004.png)" in md


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


ADVERSARIAL = [
    {"round": r, "loss_d": 1.2, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4} for r in (50, 100)
]
MMD = [{"round": r, "mmd": 3.0 / r, "loss": 3.0 / r} for r in (50, 100)]
EVAL = {"fid": 36.3, "kid": 4.0, "num_samples": 1000, "eval_s": 3.0}


def test_fid_where_any_job_has_it_and_the_loss_of_the_others(tmp_path):
    adv = _job(tmp_path / "adv", [*ADVERSARIAL[:1], {**ADVERSARIAL[1], **EVAL}])
    mmd = _job(tmp_path / "mmd", MMD)
    drawn = curves([("adversarial", adv), ("mmd", mmd)])
    assert drawn == {
        "fid": [("adversarial", [(100, 36.3)])],
        "loss": [("mmd", [(50, 0.06), (100, 0.03)])],
    }
    assert curves_picture([("adversarial", adv), ("mmd", mmd)], tmp_path / "c.png")
    assert Image.open(tmp_path / "c.png").size == (1200, 400)
    both = _job(tmp_path / "mmd_eval", [*MMD, {"round": 150, "loss": 0.02, **EVAL}])
    assert list(curves([("adversarial", adv), ("mmd", both)])) == ["fid"]  # one shared panel


def test_the_swept_picture_draws_every_finished_job(tmp_path):
    rows = [
        {"job": "0", "objective": "adversarial", "status": "done", "loss_d": 1.1, "loss_g": 0.9},
        {"job": "1", "objective": "mmd", "status": "done", "loss": 3.2, "mmd": 3.2},
        {"job": "2", "objective": "mmd", "status": "failed", "loss": 9.0},
    ]
    assert finals(rows, "objective") == {}  # nothing both objectives logged
    rows[1]["loss_d"] = 1.3
    assert finals(rows, "objective") == {"loss_d": [("adversarial", 1.1), ("mmd", 1.3)]}
    rows[0]["fid"], rows[1]["fid"] = 30.0, 40.0
    assert finals(rows, "objective") == {"fid": [("adversarial", 30.0), ("mmd", 40.0)]}


def test_a_job_stopped_at_its_time_limit_is_drawn_beside_finished_ones():
    rows = [
        {"job": "0", "objective": "adversarial", "status": "time_limit", "fid": 30.0},
        {"job": "1", "objective": "mmd", "status": "done", "fid": 50.0},
        {"job": "2", "objective": "mmd", "status": "interrupted", "fid": 9.0},
    ]
    assert finals(rows, "objective") == {"fid": [("adversarial", 30.0), ("mmd", 50.0)]}
