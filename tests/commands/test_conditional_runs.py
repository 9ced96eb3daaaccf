"""conditional=true from the command line: every pair trains or is refused, grids show one
class per row, gantrain-sample draws a chosen class, evaluation reads the labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from data_files import coloured_picture, write_celeba
from helpers import run_cli, tiny_train
from PIL import Image
from test_sample_eval import FAST, call, error_line

from gantrain.commands import evaluate as eval_cli
from gantrain.commands import sample as sample_cli
from gantrain.training import checkpoint

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]
PAIRS = {
    "dcgan_adversarial": CRITIC,
    "dcgan_mmd": [],
    "ae_mle": [],
    "vae_mle": [],
    "ae_mmd": [],
    "vae_mmd": [],
    "ae_adversarial": ["objective.critic.hidden=16"],
    "vae_adversarial": CRITIC,
}


@pytest.fixture(scope="module")
def cdcgan_run(mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp("cdcgan")
    tiny_train(
        ["conditional=true", "trainer.rounds=3", "trainer.sample_at=[3]", *CRITIC], run, mnist_root
    )
    return run


@pytest.mark.slow
@pytest.mark.parametrize("pair", list(PAIRS))
def test_every_pair_trains_conditionally(pair, mnist_root, tmp_path):
    model, objective = pair.split("_")
    args = [
        "conditional=true",
        f"model={model}",
        f"objective={objective}",
        *PAIRS[pair],
        "trainer.rounds=2",
        "trainer.sample_at=[2]",
    ]
    summary = tiny_train(args, tmp_path, mnist_root)
    assert summary["status"] == "done"
    payload = checkpoint.load(tmp_path / "checkpoints" / "last.pt")
    assert payload["config"]["model"]["num_classes"] == 10 and len(payload["classes"]) == 10
    critic = payload["config"]["objective"].get("critic") or {}
    # an image critic scores (image, label); a critic on codes stays unconditional
    assert critic.get("num_classes") == (10 if critic.get("channels") else None)
    # ten rows of eight: one class per row
    grid = Image.open(tmp_path / "samples" / "round_000002.png")
    assert grid.size == (8 * 28 + 9 * 2, 10 * 28 + 11 * 2)


@pytest.mark.slow
def test_grid_columns_share_noise_and_rows_share_a_class(cdcgan_run):
    from gantrain.cli.runs import load_run
    from gantrain.record.pictures import class_rows

    run = load_run(str(cdcgan_run), None, True, {}, torch.device("cpu"))
    noise, labels = class_rows(run.model, torch.randn(64, run.model.latent_dim))
    assert labels.tolist() == [c for c in range(10) for _ in range(8)]
    assert torch.equal(noise[:8], noise[8:16]) and not torch.equal(noise[0], noise[1])


def test_sample_a_class_and_balanced_samples(cdcgan_run, tmp_path, monkeypatch, capsys):
    base = [f"run_dir={cdcgan_run}", "device=cpu"]
    args = [*base, "class=7", "num_samples=12", f"out={tmp_path / 'sevens.npz'}"]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    got = np.load(tmp_path / "sevens.npz")
    assert got["images"].shape == (12, 1, 28, 28)
    assert got["labels"].dtype == np.int64 and got["labels"].tolist() == [7] * 12
    args = [*base, "num_samples=25", f"out={tmp_path / 'all.npz'}"]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    assert np.bincount(np.load(tmp_path / "all.npz")["labels"]).tolist() == [3] * 5 + [2] * 5
    # the class sets what is drawn: the same noise drawn as another class differs
    args = [*base, "class=3", "num_samples=12", f"out={tmp_path / 'threes.npz'}"]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    assert not np.array_equal(np.load(tmp_path / "threes.npz")["images"], got["images"])


def test_interpolation_keeps_the_class(cdcgan_run, tmp_path, monkeypatch, capsys):
    from gantrain.cli.runs import load_run
    from gantrain.commands.sample import interpolations

    run = load_run(str(cdcgan_run), None, True, {}, torch.device("cpu"))
    run.model.sample_norm = "running"  # each image on its own, not the batch's statistics
    fixed = interpolations(run.model, 2, 4, seed=0, labels=torch.tensor([5, 5]))
    other = interpolations(run.model, 2, 4, seed=0, labels=torch.tensor([5, 6]))
    assert fixed.shape == (16, 1, 28, 28)
    assert torch.equal(fixed[:8], other[:8]) and not torch.equal(fixed[8:], other[8:])
    args = [
        f"run_dir={cdcgan_run}",
        "mode=interpolate",
        "class=2",
        "num_samples=2",
        "steps=3",
        f"out={tmp_path / 'walk.npz'}",
    ]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    walk = np.load(tmp_path / "walk.npz")
    assert walk["images"].shape[0] == 12 and walk["labels"].tolist() == [2] * 12


@pytest.mark.slow
@pytest.mark.parametrize(
    "run, args, message",
    [
        ("cdcgan", ["class=10"], "class=10: this run has 10 classes, 0..9"),
        ("cdcgan", ["class=-1"], "class=-1: this run has 10 classes"),
        ("cdcgan", ["class=seven"], "class=seven is not one of this run's classes"),
        ("cdcgan", ["class=true"], "class=true must be a class index"),
        ("cdcgan", ["class=3", "mode=reconstruct"], "does not apply to mode=reconstruct"),
        ("cdcgan", ["dataset.labels=true"], "dataset.labels is not a key gantrain reads"),
        ("plain", ["class=3"], "this run is unconditional"),
    ],
)
def test_sample_class_refusals(
    run, args, message, cdcgan_run, mnist_root, tmp_path, monkeypatch, capsys
):
    if run == "plain":
        tiny_train(["trainer.rounds=1", "trainer.sample_at=[1]", *CRITIC], tmp_path, mnist_root)
        path = tmp_path
    else:
        path = cdcgan_run
    code, _, err = call(
        sample_cli, [f"run_dir={path}", f"out={tmp_path / 'x.npz'}", *args], monkeypatch, capsys
    )
    assert code == 2 and message in error_line(err, "gantrain-sample")
    assert not (tmp_path / "x.npz").exists()


def test_eval_adds_label_accuracy_and_intra_fid(cdcgan_run, mnist_root, monkeypatch, capsys):
    args = [
        f"run_dir={cdcgan_run}",
        "num_samples=40",
        f"dataset.root={mnist_root}",
        *FAST,
        "out=" + str(cdcgan_run / "c_eval.json"),
    ]
    code, out, _ = call(eval_cli, args, monkeypatch, capsys)
    assert code == 0 and "label accuracy" in out and "intra-FID" in out
    record = json.loads((cdcgan_run / "c_eval.json").read_text())
    assert 0 <= record["label_accuracy"] <= 1 and record["intra_fid"] > 0


@pytest.mark.slow
def test_conditional_image_folder_samples_a_class_by_name(tmp_path, monkeypatch, capsys):
    for c, name in enumerate(["cats", "dogs"]):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(10):
            coloured_picture(20, 20, 10 * c + i).save(tmp_path / "pets" / name / f"{i}.png")
    args = [
        "conditional=true",
        "dataset=image_folder",
        f"dataset.root={tmp_path / 'pets'}",
        "dataset.image_size=16",
        "dataset.workers=0",
        "trainer.rounds=2",
        "trainer.sample_at=[2]",
        "eval.at=[]",
        *CRITIC,
    ]
    tiny_train(args, tmp_path / "run", tmp_path)
    assert checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")["classes"] == [
        "cats",
        "dogs",
    ]
    grid = Image.open(tmp_path / "run" / "samples" / "round_000002.png")
    assert grid.size == (8 * 16 + 9 * 2, 2 * 16 + 3 * 2)  # two classes, two rows
    out = tmp_path / "dogs.npz"
    args = [f"run_dir={tmp_path / 'run'}", "class=dogs", "num_samples=3", f"out={out}"]
    assert call(sample_cli, args, monkeypatch, capsys)[0] == 0
    assert np.load(out)["labels"].tolist() == [1, 1, 1]


@pytest.mark.slow
def test_datasets_without_labels_are_refused_in_one_line(tmp_path):
    write_celeba(tmp_path / "celeba_root")
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        coloured_picture(20, 20, i).save(flat / f"{i}.png")
    cases = [
        (["dataset=celeba", f"dataset.root={tmp_path / 'celeba_root'}"], "celeba has none"),
        (["dataset=image_folder", f"dataset.root={flat}"], "one subfolder per class"),
    ]
    for args, message in cases:
        done = run_cli(
            [
                "conditional=true",
                "device=cpu",
                "dataset.image_size=16",
                *args,
                f"hydra.run.dir={tmp_path / 'run'}",
            ],
            tmp_path,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert message in error_line(done.stderr, "gantrain")
        assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_num_classes_is_not_a_key(tmp_path):
    done = run_cli(["+model.num_classes=3", "device=cpu"], tmp_path)
    assert done.returncode == 2
    assert "model.num_classes is not a key gantrain reads" in error_line(done.stderr, "gantrain")


def test_numeric_class_names_that_disagree_with_their_index_are_refused():
    from types import SimpleNamespace

    from gantrain.commands.sample import class_labels
    from gantrain.errors import UserError

    names = sorted(str(i) for i in range(11))  # 0, 1, 10, 2, ...: folder names sort as text
    run = SimpleNamespace(model=SimpleNamespace(num_classes=11), payload={"classes": names})
    with pytest.raises(UserError, match="class=2 is ambiguous.*class='2'.*class=3"):
        class_labels(run, 2, 4)
    assert class_labels(run, "2", 2).tolist() == [3, 3]
    assert class_labels(run, 1, 2).tolist() == [1, 1]  # "1" is index 1: no doubt


@pytest.mark.slow
def test_resume_keeps_the_conditional_switch_and_the_classes(cdcgan_run, mnist_root, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(cdcgan_run, run)
    summary = (run / "summary.json").read_bytes()
    cases = [
        (["conditional=false"], "conditional: True -> False"),  # a config change, as any other
        (["conditional=false", "resume_force=true"], "trained with conditional=true"),
    ]
    for extra, message in cases:
        done = run_cli([f"resume={run}", "trainer.rounds=5", *extra], tmp_path)
        assert done.returncode == 2
        assert message in error_line(done.stderr, "gantrain")
    assert (run / "summary.json").read_bytes() == summary  # a refused start changes nothing
