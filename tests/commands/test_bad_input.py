"""Bad places and sizes are one line, before the cost: run and sweep directories under a file,
out= that is the wrong kind of thing, a model too large for the machine; and any sample count
streams in bounded memory to the same .npz."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from helpers import CRITIC, TINY, one_error_line, run_cli, tiny_train

from gantrain.cli.runs import load_run
from gantrain.commands import sample as sample_cli
from gantrain.metrics import drawing


@pytest.fixture(scope="module")
def tiny_run(mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    tiny_train(
        ["trainer.rounds=2", "trainer.sample_at=[2]", "eval.at=[]", *CRITIC], run, mnist_root
    )
    return run


@pytest.mark.slow
@pytest.mark.parametrize("multirun", [False, True])
def test_run_directory_under_a_file_is_one_line(tmp_path, multirun):
    (tmp_path / "plain").write_text("a file where a folder would go")
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    args = [*(["-m"] if multirun else []), "device=cpu", f"{key}={tmp_path}/plain/runs/${{now:%H}}"]
    done = run_cli(args, tmp_path, timeout=120)
    assert done.returncode != 0
    line = one_error_line(done.stderr)
    assert line.startswith("gantrain: error:") and key in line
    assert f"{tmp_path / 'plain'}, which is a file" in line
    assert (tmp_path / "plain").read_text() == "a file where a folder would go"


@pytest.mark.slow
def test_sample_out_that_is_an_existing_file_is_one_line(tmp_path):
    (tmp_path / "samples").write_text("kept")
    (tmp_path / "grid.png").mkdir()
    for out, says in (("samples", "is an existing file"), ("grid.png", "is an existing folder")):
        done = run_cli(
            [f"run_dir={tmp_path}", f"out={tmp_path / out}"],
            tmp_path,
            script="gantrain-sample",
            timeout=120,
        )
        assert done.returncode != 0
        line = one_error_line(done.stderr)
        assert line.startswith("gantrain-sample: error:") and says in line, line
    assert (tmp_path / "samples").read_text() == "kept"


def test_a_grid_of_too_many_images_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        ["prog", f"run_dir={tmp_path}", "num_samples=10001", f"out={tmp_path / 'g.png'}"],
    )
    with pytest.raises(SystemExit) as stop:
        sample_cli.main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "10,001 images" in err and "g.npz" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_model_too_large_is_refused_quickly(mnist_root, tmp_path):
    run = tmp_path / "run"
    args = [
        f"dataset.root={mnist_root}",
        *TINY,
        *CRITIC,
        "model.latent_dim=100000000",
        f"hydra.run.dir={run}",
    ]
    done = run_cli(args, tmp_path, timeout=300)
    assert done.returncode != 0
    line = one_error_line(done.stderr)
    assert "model.latent_dim=100000000" in line and "GiB" in line, line
    assert not run.exists()  # refused before training: the run directory is gone


@pytest.mark.slow
def test_many_samples_stream_to_the_same_npz(tiny_run, tmp_path, monkeypatch, capsys):
    """With the noise drawn 48 numbers at a time and 100 images a batch, 250 samples are the
    images of one whole draw of noise."""
    n = 250
    run = load_run(str(tiny_run), None, True, {}, torch.device("cpu"))
    noise = torch.randn(n, run.model.latent_dim, generator=torch.Generator().manual_seed(3))
    whole = drawing.sample_uint8(run.model, n, noise=noise).numpy()  # the unchunked result
    monkeypatch.setattr(drawing, "DRAW_NUMBERS", 48)
    out = tmp_path / "s.npz"
    monkeypatch.setattr(
        sys,
        "argv",
        ["prog", f"run_dir={tiny_run}", f"num_samples={n}", "seed=3", "device=cpu", f"out={out}"],
    )
    sample_cli.main()
    capsys.readouterr()
    with np.load(out) as z:
        assert z.files == ["images"]
        images = z["images"]
    assert images.shape == whole.shape and images.dtype == np.uint8
    assert np.array_equal(images, whole)
    assert not list(tmp_path.glob("*.tmp"))


def test_noise_blocks_are_one_draw(monkeypatch):
    monkeypatch.setattr(drawing, "DRAW_NUMBERS", 40)
    for n, d, batch in ((17, 1, 16), (250, 33, 100), (101, 7, 3), (5, 100, 2)):
        whole = torch.randn(n, d, generator=torch.Generator().manual_seed(1))
        drawn = list(drawing.noise_batches(n, d, 1, batch))
        assert [len(b) for b in drawn[:-1]] == [batch] * (len(drawn) - 1)
        assert torch.equal(torch.cat(drawn), whole), (n, d, batch)
