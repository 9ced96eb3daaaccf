"""Animated walks: a looping GIF with every frame, an MP4 where PyAV is installed."""

from __future__ import annotations

import sys

import pytest
import torch
from PIL import Image

from gantrain.errors import UserError
from gantrain.record.animation import grid_frames, there_and_back, write_animation


def _frames(t: int = 5, n: int = 4, side: int = 8) -> list:
    shades = torch.arange(t, dtype=torch.uint8)[:, None, None, None, None] * 50  # frame t: 50 t
    return grid_frames(shades.expand(t, n, 1, side, side).contiguous(), per_row=2)


def test_gif_loops_there_and_back(tmp_path):
    frames = there_and_back(_frames(5))
    assert len(frames) == 8  # 0 1 2 3 4 3 2 1, then 0 again as it loops
    write_animation(frames, tmp_path / "walk.gif", fps=4)
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 8 and gif.info["loop"] == 0 and gif.info["duration"] == 250
    shades = []
    for i in range(gif.n_frames):
        gif.seek(i)
        shades.append(gif.convert("L").getpixel((5, 5)))  # inside the first image
    assert shades == [0, 50, 100, 150, 200, 150, 100, 50]
    assert [p.name for p in tmp_path.iterdir()] == ["walk.gif"]


def test_mp4_without_a_writer_is_refused_naming_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # import av now fails
    with pytest.raises(UserError, match="pip install av") as err:
        write_animation(_frames(), tmp_path / "walk.mp4", fps=4)
    assert "\n" not in str(err.value) and not list(tmp_path.iterdir())


def test_mp4_has_every_frame(tmp_path):
    av = pytest.importorskip("av")
    write_animation(_frames(6, n=1, side=7), tmp_path / "walk.mp4", fps=5)  # one 7 x 7 image
    with av.open(str(tmp_path / "walk.mp4")) as video:
        frames = list(video.decode(video=0))
    assert len(frames) == 6 and (frames[0].width, frames[0].height) == (8, 8)  # even sides
