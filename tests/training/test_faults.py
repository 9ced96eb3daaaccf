"""Faults a long run meets: a full disk and a damaged last checkpoint. Each fault is injected
deterministically: by patching a writer, by a real per-file size limit, by a real 3 MB
filesystem where the machine allows mounting one, or by truncating a file."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    CRITIC,
    TINY,
    cli_args,
    one_error_line,
    patched_gantrain,
    run_cli,
    small_filesystem,
)

from gantrain.errors import WriteFailed
from gantrain.record.monitor import Monitor
from gantrain.training import checkpoint

# a checkpoint write that fills the disk: some bytes land, then ENOSPC
FULL_DISK_AT_SECOND_CHECKPOINT = """
import builtins, errno
import gantrain.training.checkpoint as checkpoint
real_open, writes = builtins.open, [0]

class Full:
    def __init__(self, f):
        self.f = f
    def write(self, data):
        self.f.write(bytes(data)[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")
    def __getattr__(self, name):
        return getattr(self.f, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.f.close()

def fake_open(path, mode="r", *args, **kwargs):
    f = real_open(path, mode, *args, **kwargs)
    if "w" in mode:
        writes[0] += 1
        if writes[0] == 2:
            return Full(f)
    return f

checkpoint.open = fake_open
"""


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_keeps_the_one_before(mnist_root, tmp_path):
    run = tmp_path / "run"
    out = patched_gantrain(
        FULL_DISK_AT_SECOND_CHECKPOINT, cli_args(mnist_root, run, ["trainer.rounds=6"]), tmp_path
    )
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert (
        f"could not write the checkpoint {run}/checkpoints/last.pt: no space left on device" in line
    )
    assert "intact checkpoints: last.pt (round 2)" in line and f"gantrain resume={run}" in line
    assert not list(run.rglob("*.tmp"))
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 2
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "no space left on device" in summary["error"]


@pytest.mark.slow
def test_a_real_size_limit_before_any_checkpoint(mnist_root, tmp_path):
    """The kernel refuses the write (RLIMIT_FSIZE: each file at most 64 KB, a checkpoint is more)."""
    run = tmp_path / "run"
    exe = Path(sys.executable).with_name("gantrain")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    out = subprocess.run(
        [str(exe), *cli_args(mnist_root, run, ["trainer.rounds=4"])],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert "could not write the checkpoint" in line and "file too large" in line
    assert "no checkpoint was written yet" in line
    assert not list(run.rglob("*.tmp")) and not (run / "checkpoints" / "last.pt").exists()
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    for row in (run / "metrics.jsonl").read_text().splitlines():
        json.loads(row)  # what was written stays whole


@pytest.fixture()
def small_disk(tmp_path):
    """A 3 MB filesystem (tmpfs), where this machine lets the tests mount one."""
    yield from small_filesystem(tmp_path / "small", "3m")


@pytest.mark.slow
def test_a_run_on_a_filesystem_too_small_for_it(mnist_root, small_disk, tmp_path):
    run = small_disk / "run"
    every_10 = "[" + ",".join(str(r) for r in range(10, 201, 10)) + "]"
    args = [
        f"dataset.root={mnist_root}",
        *TINY,
        *CRITIC,
        "trainer.rounds=200",
        f"trainer.sample_at={every_10}",
        "trainer.checkpoint_every=10",
        "trainer.keep_checkpoints=100",
        f"hydra.run.dir={run}",
    ]
    out = run_cli(args, tmp_path)
    assert out.returncode == 2
    line = one_error_line(out.stderr + out.stdout)
    assert "no space left on device" in line and f"gantrain resume={run}" in line
    assert not list(run.rglob("*.tmp"))
    rnd = checkpoint.load(run / "checkpoints" / "last.pt")["round"]
    assert 10 <= rnd < 200 and f"last.pt (round {rnd})" in line
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "no space left on device" in summary["error"]


@pytest.mark.slow
def test_a_failed_grid_leaves_checkpoint_and_metrics_whole(mnist_root, tmp_path):
    setup = """
    import errno
    from PIL import Image
    real_save = Image.Image.save
    def save(self, fp, *args, **kwargs):
        if "round_000004" in str(fp):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *args, **kwargs)
    Image.Image.save = save
    """
    run = tmp_path / "run"
    out = patched_gantrain(setup, cli_args(mnist_root, run, ["trainer.rounds=6"]), tmp_path)
    assert out.returncode == 2
    assert "could not write the picture" in one_error_line(out.stderr)
    assert not list(run.rglob("*.tmp"))
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 2
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows] == [1, 2, 3]  # round 4's grid comes before its row


def test_a_metrics_row_cut_short_is_taken_back(tmp_path):
    monitor = Monitor(tmp_path, rounds=10, progress=False)
    monitor.scalars(1, {"loss": 1.0})

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, text):
            self.f.write(text[:7])  # half a row reaches the disk
            self.f.flush()
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    monitor.metrics = Full(monitor.metrics)
    with pytest.raises(WriteFailed, match="could not write metrics .*no space left on device"):
        monitor.scalars(2, {"loss": 0.5})
    monitor.close()
    assert (tmp_path / "metrics.jsonl").read_text() == '{"round": 1, "loss": 1.0}\n'


# ---- a damaged last.pt ----


@pytest.fixture()
def finished_run(mnist_root, tmp_path):
    run = tmp_path / "run"
    out = run_cli(cli_args(mnist_root, run, ["trainer.rounds=10"]), tmp_path)
    assert out.returncode == 0, out.stderr
    return run


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.slow
def test_a_damaged_last_checkpoint_resumes_from_the_newest_milestone(finished_run, tmp_path):
    _truncate(finished_run / "checkpoints" / "last.pt")
    out = run_cli([f"resume={finished_run}", "trainer.rounds=12"], tmp_path)
    assert out.returncode == 0, out.stderr
    log = (finished_run / "train.log").read_text()
    assert "last.pt is damaged; continuing from round_000008.pt (round 8): 2 rounds are lost" in log
    assert checkpoint.load(finished_run / "checkpoints" / "last.pt")["round"] == 12
    metrics = (finished_run / "metrics.jsonl").read_text().splitlines()
    rounds = [json.loads(row)["round"] for row in metrics]
    assert rounds == sorted(set(rounds)) and rounds[-1] == 12  # rows 9, 10 logged once, again


@pytest.mark.slow
def test_no_intact_checkpoint_is_one_line(finished_run, tmp_path):
    for ckpt in (finished_run / "checkpoints").glob("*.pt"):
        _truncate(ckpt)
    out = run_cli([f"resume={finished_run}", "trainer.rounds=12"], tmp_path)
    assert out.returncode == 2
    assert "no milestone checkpoint (round_*.pt) beside it is intact" in one_error_line(out.stderr)


@pytest.mark.slow
def test_sample_and_eval_name_the_intact_checkpoints(finished_run, tmp_path):
    _truncate(finished_run / "checkpoints" / "last.pt")
    for script, extra in (("gantrain-sample", ["out=x.npz"]), ("gantrain-eval", [])):
        out = run_cli([f"run_dir={finished_run}", *extra], tmp_path, script=script)
        assert out.returncode == 2
        line = one_error_line(out.stderr)
        assert "round_000008.pt (round 8), round_000004.pt (round 4)" in line
        assert f"checkpoint={finished_run}/checkpoints/NAME" in line
