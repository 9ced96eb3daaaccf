"""gantrain-sample mode=interpolate out=walk.gif: an animation of the interpolation paths."""

from __future__ import annotations

import pytest
from helpers import tiny_train
from PIL import Image
from test_sample_eval import CRITIC, call, error_line

from gantrain.commands import sample as sample_cli


@pytest.fixture(scope="module")
def run(mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("walk")
    tiny_train(["trainer.rounds=2", "trainer.sample_at=[2]", *CRITIC], run, mnist_root)
    return run


def test_walk_gif_has_a_frame_per_step_there_and_back(run, tmp_path, monkeypatch, capsys):
    args = [
        f"run_dir={run}",
        "mode=interpolate",
        "num_samples=4",
        "steps=6",
        "fps=5",
        f"out={tmp_path / 'walk.gif'}",
    ]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 2 * 6 - 2 and gif.info["duration"] == 200
    # 4 pairs, each a straight and a spherical path: 2 pairs (4 images) a row, 2 rows
    assert gif.size == (4 * 28 + 5 * 2, 2 * 28 + 3 * 2)


@pytest.mark.parametrize("mode", ["samples", "reconstruct"])
def test_animations_are_of_interpolations_only(run, tmp_path, monkeypatch, capsys, mode):
    args = [f"run_dir={run}", f"mode={mode}", f"out={tmp_path / 'x.gif'}"]
    code, _, err = call(sample_cli, args, monkeypatch, capsys)
    assert code == 2 and "mode=interpolate" in error_line(err, "gantrain-sample")
