"""gantrain-sample and gantrain-eval on tiny trained runs: outputs, protocol, one-line errors."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
from helpers import run_cli, tiny_train
from PIL import Image

from gantrain.commands import evaluate as eval_cli
from gantrain.commands import sample as sample_cli
from gantrain.training import checkpoint

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]
FAST = ["classifier.steps=20", "classifier.batch_size=32", "kid_subsets=5"]


@pytest.fixture(scope="module")
def dcgan_run(mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("dcgan")
    tiny_train(["trainer.rounds=3", "trainer.sample_at=[3]", *CRITIC], run, mnist_root)
    return run


@pytest.fixture(scope="module")
def ae_run(mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("ae")
    tiny_train(
        ["model=ae", "objective=mle", "trainer.rounds=3", "trainer.sample_at=[3]"], run, mnist_root
    )
    return run


def call(module, args, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run a CLI's main() in this process, as its console script would."""
    monkeypatch.setattr(sys, "argv", ["prog", *map(str, args)])
    code = 0
    try:
        module.main()
    except SystemExit as stop:
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def error_line(err: str, prog: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
def test_samples_npz_png_and_directory(dcgan_run, tmp_path, monkeypatch, capsys):
    base = [f"run_dir={dcgan_run}", "num_samples=10", "device=cpu"]
    assert call(sample_cli, [*base, f"out={tmp_path / 's.npz'}"], monkeypatch, capsys)[0] == 0
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (10, 1, 28, 28) and images.dtype == np.uint8
    assert call(sample_cli, [*base, f"out={tmp_path / 's.png'}"], monkeypatch, capsys)[0] == 0
    assert Image.open(tmp_path / "s.png").size == (3 * 28 + 4 * 2, 4 * 28 + 5 * 2)  # 3 a row
    assert call(sample_cli, [*base, f"out={tmp_path / 'dir'}"], monkeypatch, capsys)[0] == 0
    files = sorted((tmp_path / "dir").glob("*.png"))
    assert len(files) == 10 and Image.open(files[0]).size == (28, 28)
    again = np.stack([np.asarray(Image.open(f)) for f in files])[:, None]
    assert np.array_equal(again, images)  # same seed, same images, whatever the format


def test_interpolation_rows(dcgan_run, tmp_path, monkeypatch, capsys):
    args = [
        f"run_dir={dcgan_run}",
        "mode=interpolate",
        "num_samples=2",
        "steps=5",
        f"out={tmp_path / 'i.npz'}",
    ]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    images = np.load(tmp_path / "i.npz")["images"]
    assert images.shape == (2 * 2 * 5, 1, 28, 28)  # per pair: a straight and a spherical row
    rows = images.reshape(4, 5, 28, 28)
    ends = rows[:2, [0, -1]].astype(int)  # both paths of a pair join the same two latents
    assert np.abs(ends[0] - ends[1]).max() <= 1


def test_reconstruct_for_autoencoders_only(ae_run, dcgan_run, tmp_path, monkeypatch, capsys):
    args = ["mode=reconstruct", "num_samples=6", f"out={tmp_path / 'r.npz'}"]
    assert call(sample_cli, [f"run_dir={ae_run}", *args], monkeypatch, capsys)[0] == 0
    got = np.load(tmp_path / "r.npz")
    assert got["images"].shape == got["inputs"].shape == (6, 1, 28, 28)
    code, _, err = call(sample_cli, [f"run_dir={dcgan_run}", *args], monkeypatch, capsys)
    assert code == 2 and "needs a model that encodes" in error_line(err, "gantrain-sample")


def test_ema_weights_are_used_unless_refused(dcgan_run, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(dcgan_run, run)
    path = run / "checkpoints" / "last.pt"
    payload = checkpoint.load(path)
    payload["ema"] = {
        k: v * 0.5 if v.is_floating_point() else v for k, v in payload["model"].items()
    }
    checkpoint.save({k: v for k, v in payload.items() if k != "format"}, path)
    outs = {}
    for ema in ("true", "false"):
        args = [f"run_dir={run}", "num_samples=4", f"ema={ema}", f"out={tmp_path / ema}.npz"]
        assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
        outs[ema] = np.load(tmp_path / f"{ema}.npz")["images"]
    assert not np.array_equal(outs["true"], outs["false"])
    args = [f"run_dir={run}", "num_samples=20", *FAST]
    assert call(eval_cli, args, monkeypatch, capsys)[0] == 0
    assert json.loads((run / "eval.json").read_text())["weights"] == "ema"


def test_eval_writes_numbers_with_their_protocol(dcgan_run, mnist_root, monkeypatch, capsys):
    args = [f"run_dir={dcgan_run}", "num_samples=30", f"dataset.root={mnist_root}", *FAST]
    code, out, _ = call(eval_cli, args, monkeypatch, capsys)
    assert code == 0 and "FID" in out and "eval.json" in out
    record = json.loads((dcgan_run / "eval.json").read_text())
    # the DCGAN default keeps an EMA of the generator, and evaluation uses it
    assert (
        record["num_samples"] == 30 and record["round"] == 3 and record["weights"] == "ema"
    )  # the DCGAN default keeps an EMA
    assert record["reference"] == {"dataset": "mnist", "split": "test", "num_images": 64}
    assert record["extractor"]["name"] == "classifier"
    assert 0 <= record["extractor"]["test_accuracy"] <= 1
    assert len(record["class_histogram"]) == 10 and record["kid_subsets"] == 5
    for key in ("fid", "kid", "kid_std", "mean_confidence", "classes_present", "eval_s"):
        assert isinstance(record[key], int | float)
    # two judges, each named by its weights' hash, in the record and the printed line
    first, second = record["judges"]
    assert first["weights_sha256"] == record["extractor"]["weights_sha256"]
    assert first["weights_sha256"] != second["weights_sha256"]
    for key in (
        "fid_judge2",
        "confidence",
        "real_confidence",
        "confidence_judge2",
        "real_confidence_judge2",
        "judges_agreement",
        "judges_disagree",
    ):
        assert isinstance(record[key], int | float)
    assert record["judges_margins"]["modes_kl"] == 0.05
    assert (
        f"judge {first['weights_sha256']}:" in out and f"judge {second['weights_sha256']}:" in out
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["checkpoint={tmp}/nope.pt"], "no checkpoint"),
        (["run_dir={tmp}/missing"], "not a directory"),
        (["run_dir={run}", "num_samples=lots"], "num_samples='lots' must be a positive integer"),
        (["run_dir={run}", "extractor=vgg"], "extractor='vgg' must be one of"),
        (["run_dir={run}", "numsamples=3"], "numsamples is not a key"),
        (["run_dir={run}", "classifier.epochs=3"], "classifier.epochs is not a key"),
        (["run_dir={run}", "split=val"], "split='val' must be one of"),
    ],
)
def test_eval_user_errors_are_one_line(dcgan_run, tmp_path, monkeypatch, capsys, args, message):
    args = [a.format(tmp=tmp_path, run=dcgan_run) for a in args]
    code, _, err = call(eval_cli, args, monkeypatch, capsys)
    assert code == 2 and message in error_line(err, "gantrain-eval")


@pytest.mark.slow
def test_corrupt_checkpoint_through_the_console_scripts(dcgan_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(dcgan_run, run)
    (run / "eval.json").unlink(missing_ok=True)
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (run / "checkpoints" / "last.pt").write_bytes(data[: len(data) // 2])
    for script, extra in (("gantrain-eval", []), ("gantrain-sample", ["out=x.npz"])):
        done = run_cli([f"run_dir={run}", *extra], tmp_path, script=script, timeout=120)
        assert done.returncode == 2
        assert "not a readable gantrain checkpoint" in error_line(done.stderr, script)
    assert not (tmp_path / "x.npz").exists() and not (run / "eval.json").exists()


def test_weights_that_do_not_fit_the_config(dcgan_run, tmp_path, monkeypatch, capsys):
    path = tmp_path / "odd.pt"
    payload = checkpoint.load(dcgan_run / "checkpoints" / "last.pt")
    payload["model"] = {"nonsense": torch.zeros(1)}
    checkpoint.save({k: v for k, v in payload.items() if k != "format"}, path)
    args = [f"checkpoint={path}", f"out={tmp_path / 'x.npz'}"]
    code, _, err = call(sample_cli, args, monkeypatch, capsys)
    assert code == 2 and "do not fit" in error_line(err, "gantrain-sample")
