"""A command line refused before any training leaves nothing behind: no run directory, no
dataset folder; and every command answers --help."""

from __future__ import annotations

import urllib.error

import pytest
from helpers import one_error_line, run_cli

from gantrain.data.torchvision_sets import open_dataset
from gantrain.errors import UserError


def _left(where) -> list[str]:
    """What is under where/outputs (the outputs folder itself counts: it must not be made)."""
    outputs = where / "outputs"
    return sorted(str(p.relative_to(where)) for p in [outputs, *outputs.rglob("*")] if p.exists())


@pytest.mark.slow
def test_a_refused_pair_leaves_no_run_directory(mnist_root, tmp_path):
    out = run_cli(
        [f"dataset.root={mnist_root}", "device=cpu", "model=dcgan", "objective=mle"],
        tmp_path,
        timeout=240,
    )
    assert out.returncode == 2
    assert "objective=adversarial or objective=mmd" in one_error_line(out.stderr)
    assert _left(tmp_path) == []


@pytest.mark.slow
def test_missing_data_without_network_leaves_no_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "no" / "such" / "root"
    for root in (empty, missing):
        out = run_cli(
            [f"dataset.root={root}", "device=cpu", "dataset.download=false"], tmp_path, timeout=240
        )
        assert out.returncode == 2
        assert f"mnist not found in {root}/MNIST/raw" in one_error_line(out.stderr)
        assert _left(tmp_path) == []
    assert list(empty.iterdir()) == [] and not (tmp_path / "no").exists()


@pytest.mark.slow
def test_a_refused_run_in_a_folder_holding_more_keeps_it(mnist_root, tmp_path):
    """A run directory that held something before the command is not this command's to remove."""
    run = tmp_path / "mine"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    out = run_cli(
        [
            f"dataset.root={mnist_root}",
            "device=cpu",
            "model=dcgan",
            "objective=mle",
            f"hydra.run.dir={run}",
        ],
        tmp_path,
        timeout=240,
    )
    assert out.returncode == 2
    assert (run / "notes.txt").read_text() == "keep me" and (run / "summary.json").is_file()


def test_a_failed_download_removes_the_folders_it_made(tmp_path):
    """torchvision creates ROOT/MNIST/raw before it downloads; offline, they go again."""
    root = tmp_path / "no" / "such" / "root"

    def make(download: bool):
        if not download:
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        (root / "MNIST" / "raw").mkdir(parents=True)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    with pytest.raises(UserError, match=f"dataset.root={root} does not exist"):
        open_dataset("mnist", root, True, make)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("gantrain", ["gantrain:", "== Config ==", "rounds: 50000"]),
        ("gantrain-sample", ["gantrain-sample", "run_dir", "num_samples"]),
        ("gantrain-eval", ["gantrain-eval", "run_dir", "extractor"]),
        ("gantrain-report", ["usage: gantrain-report SWEEP_DIR"]),
    ],
)
def test_every_command_answers_help(script, says, tmp_path):
    out = run_cli(["--help"], tmp_path, script=script, timeout=120)
    assert out.returncode == 0, out.stderr
    assert all(s in out.stdout for s in says), out.stdout
    assert "error" not in out.stderr.lower()
