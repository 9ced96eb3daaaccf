"""gantrain-project: a projection recovers the model's own sample; AE/VAE start from their
encoder; conditional runs search the classes or take the one given; mistakes are one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import tiny_train
from PIL import Image

from gantrain.cli.runs import load_run
from gantrain.commands.project import project_image
from gantrain.errors import UserError
from gantrain.metrics.drawing import sample_uint8
from gantrain.metrics.projection import Renderer

RUN = ["trainer.rounds=3", "trainer.sample_at=[3]", "eval.at=[]", "eval.classifier.steps=20"]
CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]
QUICK = {"steps": 60, "starts": 2, "walk_steps": 5, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(mnist_root, tmp_path_factory) -> dict:
    """Tiny runs trained by the real train command: a DCGAN, a VAE, a conditional DCGAN."""
    made = {}
    for name, extra in (
        ("dcgan", CRITIC),
        ("vae", ["model=vae", "objective=mle"]),
        ("cdcgan", ["conditional=true", *CRITIC]),
    ):
        made[name] = tmp_path_factory.mktemp(name)
        tiny_train([*RUN, *extra], made[name], mnist_root)
    return made


def own_sample(run_dir, path, seed=7, label=None) -> torch.Tensor:
    """One of the run's own samples (as gantrain-sample draws them) saved as a PNG; the
    others of its batch, uint8 (N, 1, 28, 28), for a baseline distance."""
    model = load_run(str(run_dir), None, True, {}, torch.device("cpu")).model
    labels = None if label is None else torch.full((16,), label)
    images = sample_uint8(model, 16, seed=seed, labels=labels)
    Image.fromarray(images[0, 0].numpy()).save(path)
    return images


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean squared difference of uint8 images, on the [-1, 1] scale the report uses."""
    return float(((a.float() - b.float()) / 127.5).pow(2).mean())


@pytest.mark.slow
def test_projection_recovers_the_models_own_sample(runs, tmp_path):
    images = own_sample(runs["dcgan"], tmp_path / "me.png")
    line = project_image(
        run_dir=str(runs["dcgan"]),
        image=str(tmp_path / "me.png"),
        out=str(tmp_path / "proj"),
        **QUICK,
    )
    report = json.loads((tmp_path / "proj" / "distances.json").read_text())
    baseline = min(_mse(images[0], other) for other in images[1:])  # the nearest other sample
    assert report["pixel_mse"] < 0.2 * baseline, (report, baseline)
    assert report["features"] == "classifier" and report["feature_distance"] >= 0
    assert f"pixel MSE {report['pixel_mse']:.4g}" in line and "feature distance" in line
    assert len(report["start_losses"]) == 2
    # the latent decodes to the reconstruction written
    z = np.load(tmp_path / "proj" / "latent.npz")["z"]
    model = load_run(str(runs["dcgan"]), None, True, {}, torch.device("cpu")).model
    with torch.no_grad():
        again = Renderer(model, seed=1)(torch.from_numpy(z), None)
    written = np.asarray(Image.open(tmp_path / "proj" / "reconstruction.png").convert("L"))
    redrawn = again[0, 0].add(1).mul(127.5).add(0.5).clamp(0, 255).byte().numpy()
    assert np.abs(written.astype(int) - redrawn.astype(int)).max() <= 1
    with Image.open(tmp_path / "proj" / "walk.gif") as gif:
        assert gif.n_frames == 2 * 5 - 2  # there and back, the ends once
    assert Image.open(tmp_path / "proj" / "comparison.png").height >= 128


@pytest.mark.slow
def test_a_vae_starts_from_its_encoder_and_refines(runs, tmp_path):
    images = own_sample(runs["vae"], tmp_path / "me.png")
    common = {
        "run_dir": str(runs["vae"]),
        "image": str(tmp_path / "me.png"),
        "device": "cpu",
        "walk_steps": 3,
        "starts": 2,
        "feature_weight": 0.0,
    }
    project_image(out=str(tmp_path / "encoded"), steps=1, lr=1e-6, **common)
    project_image(out=str(tmp_path / "refined"), steps=60, **common)
    encoded = json.loads((tmp_path / "encoded" / "distances.json").read_text())
    refined = json.loads((tmp_path / "refined" / "distances.json").read_text())
    # the encoder's code is the better of the two starts before refinement
    model = load_run(str(runs["vae"]), None, True, {}, torch.device("cpu")).model
    x = images[:1].float().div(127.5).sub(1)
    with torch.no_grad():
        decoded = model.decode(model.encode(x)[1]["mu"])
    assert encoded["pixel_mse"] == pytest.approx(float((decoded - x).pow(2).mean()), rel=1e-3)
    assert refined["pixel_mse"] < encoded["pixel_mse"]
    assert refined["features"] == "none" and refined["feature_distance"] is None


@pytest.mark.slow
def test_a_conditional_run_searches_the_classes_or_takes_one(runs, tmp_path):
    own_sample(runs["cdcgan"], tmp_path / "me.png", label=3)
    common = {
        "run_dir": str(runs["cdcgan"]),
        "image": str(tmp_path / "me.png"),
        "feature_weight": 0.0,
        **QUICK,
    }
    line = project_image(out=str(tmp_path / "given"), class_=3, **common)
    assert "class 3" in line
    assert int(np.load(tmp_path / "given" / "latent.npz")["label"][0]) == 3
    project_image(out=str(tmp_path / "searched"), class_=None, **common)
    searched = json.loads((tmp_path / "searched" / "distances.json").read_text())
    assert len(searched["start_losses"]) == 10 * 2  # every class, every start
    given = json.loads((tmp_path / "given" / "distances.json").read_text())
    assert searched["pixel_mse"] <= given["pixel_mse"] * 1.5  # the search finds one as close
    with pytest.raises(UserError, match="class=12: this run has 10 classes"):
        project_image(out=str(tmp_path / "bad"), class_=12, **common)


def test_bad_images_are_one_line_before_any_run_is_loaded(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    Image.fromarray(np.zeros((4, 30), np.uint8)).save(tmp_path / "thin.png")
    cases = {
        str(tmp_path / "missing.png"): "is not a file",
        str(tmp_path / "notes.png"): "cannot be read as a picture",
        str(tmp_path / "thin.png"): "is 30 x 4 pixels; give a picture at least 8 pixels a side",
    }
    for image, words in cases.items():
        with pytest.raises(UserError, match=words) as err:
            project_image(run_dir=str(tmp_path / "no-run"), image=image, out=str(tmp_path / "o"))
        assert "\n" not in str(err.value)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_the_command_line_answers_a_bad_path_in_one_line(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gantrain.commands.project",
            "run_dir=nowhere",
            "image=nope.png",
            f"out={tmp_path / 'p'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "gantrain-project: error: image=nope.png is not a file; give the path of a picture "
        "(PNG, JPEG, ...)"
    ]
