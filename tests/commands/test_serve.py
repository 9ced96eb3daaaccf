"""gantrain-serve's HTTP API: a real server on a free port gives the pixels gantrain-sample
writes for the same seed, class and truncation; the grid, interpolation, info and page answer;
mistakes are HTTP 400 with one line."""

from __future__ import annotations

import io
import socket
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from test_sample_eval import call, error_line
from test_seeds import tiny_cdcgan

from gantrain.cli.runs import load_run
from gantrain.commands import sample as sample_cli


@pytest.fixture(scope="module")
def cdcgan_run(mnist_root, tmp_path_factory):
    return tiny_cdcgan(mnist_root, tmp_path_factory)


@pytest.fixture(scope="module")
def server(cdcgan_run):
    """A uvicorn server on a free port of 127.0.0.1 in a thread; its base URL."""
    import uvicorn

    from gantrain.cli.seeded import Drawer
    from gantrain.serve.app import build_app

    app = build_app(Drawer(load_run(str(cdcgan_run), None, True, {}, torch.device("cpu"))))
    with socket.socket() as probe:  # a free port: bound, read, released for uvicorn
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    started = threading.Event()

    def watch():  # uvicorn sets srv.started once listening; polled off the test's thread
        while thread.is_alive() and not srv.started:
            started.wait(0.05)
        started.set()

    threading.Thread(target=watch, daemon=True).start()
    assert started.wait(60) and srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.mark.slow
def test_sample_png_is_gantrain_samples_image(server, cdcgan_run, tmp_path, monkeypatch, capsys):
    import httpx

    got = httpx.get(
        f"{server}/sample.png", params={"seed": 3, "class": 7, "truncation": 0.7}, timeout=60
    )
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    out = tmp_path / "x.png"
    args = [
        f"run_dir={cdcgan_run}",
        "device=cpu",
        "seeds=3",
        "class=7",
        "truncation=0.7",
        f"out={out}",
    ]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    assert np.array_equal(pixels(got.content), pixels(out.read_bytes()))
    other = httpx.get(f"{server}/sample.png", params={"seed": 3, "class": 7}, timeout=60)
    assert not np.array_equal(pixels(other.content), pixels(got.content))  # psi matters


@pytest.mark.slow
def test_grid_matches_gantrain_sample_grid(server, cdcgan_run, tmp_path, monkeypatch, capsys):
    import httpx

    got = httpx.get(f"{server}/grid.png", params={"seeds": "0-8,20"}, timeout=60)
    out = tmp_path / "g.png"
    args = [f"run_dir={cdcgan_run}", "device=cpu", "seeds=0-8,20", f"out={out}"]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    assert np.array_equal(pixels(got.content), pixels(out.read_bytes()))


@pytest.mark.slow
def test_interpolation_ends_are_the_seeds_images(server):
    import httpx

    walk = pixels(
        httpx.get(
            f"{server}/interpolate.png",
            params={"a": 3, "b": 17, "steps": 5, "class": 2},
            timeout=60,
        ).content
    )
    a = pixels(
        httpx.get(f"{server}/sample.png", params={"seed": 3, "class": 2}, timeout=60).content
    )
    b = pixels(
        httpx.get(f"{server}/sample.png", params={"seed": 17, "class": 2}, timeout=60).content
    )
    side = a.shape[0]
    assert walk.shape[1] == 5 * side + 6 * 2  # five images in a row, make_grid's 2-pixel padding
    assert np.abs(walk[2 : 2 + side, 2 : 2 + side].astype(int) - a.astype(int)).max() <= 1
    last = walk[2 : 2 + side, -2 - side : -2]
    assert np.abs(last.astype(int) - b.astype(int)).max() <= 1


@pytest.mark.slow
def test_info_page_and_mistakes(server):
    import httpx

    info = httpx.get(f"{server}/api/info", timeout=60).json()
    assert info["latent_dim"] > 0 and len(info["classes"]) == 10 and info["image_size"] == 28
    assert "manual_seed(seed)" in info["seed_rule"]
    page = httpx.get(f"{server}/", timeout=60)
    assert page.status_code == 200 and "truncation" in page.text and "/grid.png" in page.text
    for path, params, words in [
        ("/sample.png", {"seed": 1, "class": 12}, "this run has 10 classes"),
        ("/sample.png", {"seed": 1, "truncation": 1.5}, "truncation=1.5"),
        ("/sample.png", {"seed": -1}, "seed=-1"),
        ("/grid.png", {"seeds": "9-2"}, "runs backwards"),
        ("/grid.png", {"seeds": "0-999"}, "a grid holds 256"),
        ("/interpolate.png", {"a": 1, "b": 2, "steps": 1000}, "steps=1000"),
    ]:
        got = httpx.get(f"{server}{path}", params=params, timeout=60)
        assert got.status_code == 400, (path, params)
        assert words in got.json()["error"] and "\n" not in got.json()["error"]


@pytest.mark.slow
def test_one_error_shape_a_default_seed_and_no_repeated_parameters(server):
    import httpx

    unknown = httpx.get(f"{server}/nope", timeout=60)
    assert unknown.status_code == 404 and unknown.json() == {"error": "/nope: Not Found"}
    missing = httpx.get(f"{server}/interpolate.png", params={"a": 1}, timeout=60)
    assert missing.status_code == 400 and missing.json() == {"error": "b is required, e.g. ?b=0"}
    plain = httpx.get(f"{server}/sample.png", timeout=60)  # no seed: the documented seed 0
    zero = httpx.get(f"{server}/sample.png", params={"seed": 0}, timeout=60)
    assert plain.status_code == 200 and plain.content == zero.content
    twice = httpx.get(f"{server}/sample.png?seed=3&seed=4", timeout=60)
    assert twice.status_code == 400
    assert twice.json() == {"error": "seed is given 2 times; give it once"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["port=70000"], "port=70000 must be a TCP port, 1..65535"),
        ([], "give run_dir=RUN"),
        (["run_dir=/nonexistent/run"], "is not a directory"),
    ],
)
def test_serve_mistakes_are_one_line(args, message, monkeypatch, capsys):
    from gantrain.commands import serve as serve_cli

    code, _, err = call(serve_cli, args, monkeypatch, capsys)
    assert code == 2 and message in error_line(err, "gantrain-serve")
