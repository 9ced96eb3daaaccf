"""gantrain-pack as a user runs it: killed mid-pack with two workers and run again, a finished
pack left alone, mistakes in one line; and dataset=hf through a short training run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import one_error_line, tiny_train_on
from PIL import Image

from gantrain.commands.pack import main, pack


def _pictures(root: Path, n: int = 24) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("even" if i % 2 == 0 else "odd")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20 + i, 26, 3), dtype=np.uint8)).save(
            folder / f"{i:02d}.png"
        )


def gantrain_pack(args: list[str], cwd: Path, setup: str = "") -> subprocess.CompletedProcess:
    """gantrain-pack's main() in a fresh Python (the console script needs an install)."""
    code = f"{setup}\nimport sys\nfrom gantrain.commands.pack import main\nsys.argv = ['gantrain-pack', *{args!r}]\nmain()\n"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


# the process kills itself (SIGKILL: no clean-up runs) once it has recorded its second shard
KILL_AFTER_TWO = """
import os, signal
from gantrain.data.pack import run as pack_run
real, done = pack_run._commit, []
def commit(*args):
    real(*args)
    done.append(1)
    if len(done) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
pack_run._commit = commit
"""


@pytest.mark.slow
def test_killed_pack_continues_and_matches_an_uninterrupted_one(tmp_path):
    _pictures(tmp_path / "pics")
    args = ["src=pics", "image_size=16", "shard_mb=0.004", "workers=2"]
    whole = pack(
        src=str(tmp_path / "pics"),
        out=str(tmp_path / "whole"),
        image_size=16,
        shard_mb=0.004,
        workers=2,
        progress=False,
    )
    assert whole.startswith("packed 24 images into")
    killed = gantrain_pack([*args, "out=cut"], tmp_path, setup=KILL_AFTER_TWO)
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "cut" / "manifest.json").exists()
    assert len(json.loads((tmp_path / "cut" / "pack-progress.json").read_text())["shards"]) == 2
    resumed = gantrain_pack([*args, "out=cut"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "continuing after 2 shards" in resumed.stderr
    manifests = [json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("whole", "cut")]
    assert manifests[0]["shards"] == manifests[1]["shards"] and manifests[1]["count"] == 24
    assert manifests[1]["classes"] == ["even", "odd"] and manifests[1]["class_counts"] == [12, 12]
    assert not list((tmp_path / "cut").glob("*.partial"))


@pytest.mark.slow
def test_mistakes_are_one_line(tmp_path, monkeypatch, capsys):
    _pictures(tmp_path / "pics", 2)
    monkeypatch.chdir(tmp_path)
    cases = {
        ("src=pics",): "give src=WHAT_TO_PACK and out=FOLDER",
        ("src=pics", "out=o", "image_size=30"): "image_size=30 must be a side",
        ("src=pics", "out=o", "fit=squash"): "fit='squash' must be one of crop, pad, stretch",
        ("src=pics", "out=o", "filter=cubic"): "filter='cubic' must be one of",
        ("src=/no/such/folder", "out=o"): "src=/no/such/folder does not exist",
        ("src=pics", "out=o", "colour=1"): "colour is not a key",
    }
    for args, words in cases.items():
        monkeypatch.setattr(sys, "argv", ["gantrain-pack", *args])
        with pytest.raises(SystemExit) as stopped:
            main()
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and words in one_error_line(err), (args, err)
    monkeypatch.setattr(sys, "argv", ["gantrain-pack", "src=pics", "out=o", "image_size=16"])
    main()
    main()
    assert capsys.readouterr().out.strip().endswith("nothing to do")


@pytest.mark.slow
def test_dataset_hf_trains(tmp_path):
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(0)
    pictures = [
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)) for _ in range(40)
    ]
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b"])}
    )
    table = datasets.Dataset.from_dict(
        {"image": pictures, "label": [i % 2 for i in range(40)]}, features
    )
    table.save_to_disk(str(tmp_path / "saved"))
    summary = tiny_train_on(
        [
            "dataset=hf",
            f"dataset.root={tmp_path / 'saved'}",
            "dataset.image_size=16",
            "dataset.workers=0",
            "conditional=true",
            "trainer.rounds=2",
            "trainer.sample_at=[2]",
            "eval.at=[]",
        ],
        tmp_path / "run",
    )
    assert summary["status"] == "done", summary


def test_ctrl_c_says_what_is_kept(tmp_path, monkeypatch, capsys):
    from gantrain.data.pack import run as pack_run

    _pictures(tmp_path / "pics", 6)
    real = pack_run._commit

    def commit(*args):
        real(*args)
        raise KeyboardInterrupt  # as Ctrl-C lands right after the first shard is recorded

    monkeypatch.setattr(pack_run, "_commit", commit)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sys,
        "argv",
        ["gantrain-pack", "src=pics", "out=o", "shard_mb=0.002", "image_size=16", "workers=0"],
    )
    with pytest.raises(SystemExit) as stopped:
        main()
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 130 and "Traceback" not in err
    assert err.startswith("gantrain-pack: interrupted: 1 finished shard (1 image) kept in o;")
    assert "run the same command again to continue" in err
