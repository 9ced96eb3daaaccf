"""gantrain-sample seeds= and truncation= on tiny trained runs: an image depends only on its
seed, a conditional run draws seed s from class s mod K, mistakes are one line."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tiny_train
from test_sample_eval import call, error_line

from gantrain.commands import sample as sample_cli

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]


def tiny_cdcgan(mnist_root, tmp_path_factory):
    """A conditional DCGAN run of two rounds with tiny nets."""
    run = tmp_path_factory.mktemp("cdcgan")
    tiny_train(
        ["conditional=true", "trainer.rounds=2", "trainer.sample_at=[2]", *CRITIC], run, mnist_root
    )
    return run


@pytest.fixture(scope="module")
def cdcgan_run(mnist_root, tmp_path_factory):
    return tiny_cdcgan(mnist_root, tmp_path_factory)


def draw(run, tmp_path, monkeypatch, capsys, *args) -> dict:
    out = tmp_path / f"s{len(list(tmp_path.iterdir()))}.npz"
    code, _, err = call(
        sample_cli, [f"run_dir={run}", "device=cpu", f"out={out}", *args], monkeypatch, capsys
    )
    assert code == 0, err
    return dict(np.load(out))


@pytest.mark.slow
def test_an_image_depends_only_on_its_seed(cdcgan_run, tmp_path, monkeypatch, capsys):
    many = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "seeds=0-129")  # two batches of 100
    few = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "seeds=[117,3]")
    assert many["images"].shape[0] == 130 and many["seeds"].tolist() == list(range(130))
    assert np.array_equal(few["images"][0], many["images"][117])
    assert np.array_equal(few["images"][1], many["images"][3])
    assert many["labels"].tolist() == [s % 10 for s in range(130)]
    assert few["labels"].tolist() == [7, 3]
    chosen = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "seeds=3", "class=7")
    assert chosen["labels"].tolist() == [7]
    assert not np.array_equal(chosen["images"][0], few["images"][1])  # class 7, not 3


@pytest.mark.slow
def test_truncation_changes_the_images_and_one_is_none(cdcgan_run, tmp_path, monkeypatch, capsys):
    plain = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "seeds=0-7")
    one = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "seeds=0-7", "truncation=1")
    cut = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "seeds=0-7", "truncation=0.5")
    assert np.array_equal(plain["images"], one["images"])
    assert not np.array_equal(plain["images"], cut["images"])
    # without seeds= the seed path is truncated too
    a = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "num_samples=4", "truncation=0.5")
    b = draw(cdcgan_run, tmp_path, monkeypatch, capsys, "num_samples=4")
    assert not np.array_equal(a["images"], b["images"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["seeds=5-2"], "seeds='5-2' must be seeds such as 0-63"),
        (["seeds=a,b"], "seeds"),
        (["truncation=1.5"], "truncation"),
        (["truncation=0"], "truncation"),
        (["seeds=1,2", "mode=interpolate"], "seeds= draws mode=samples"),
    ],
)
def test_seed_mistakes_are_one_line(cdcgan_run, tmp_path, monkeypatch, capsys, args, message):
    out = tmp_path / "x.npz"
    code, _, err = call(
        sample_cli, [f"run_dir={cdcgan_run}", f"out={out}", *args], monkeypatch, capsys
    )
    assert code == 2 and message in error_line(err, "gantrain-sample")
    assert not out.exists()
