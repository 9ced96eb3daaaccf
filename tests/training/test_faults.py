"""Faults a long run meets: a full disk, a damaged last checkpoint, signals at awkward moments.
Each fault is injected deterministically: by patching a writer, by a real per-file size limit,
or by the process signalling itself at the moment in question."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TINY, gantrain_argv, run_cli, tiny_train

from gantrain.errors import WriteFailed
from gantrain.record.monitor import Monitor
from gantrain.training import checkpoint
from gantrain.training.signals import Interrupted

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]


def _cli_args(root: Path, run: Path, extra=()) -> list[str]:
    return [f"dataset.root={root}", *TINY, *CRITIC, "trainer.checkpoint_every=2",
            "trainer.sample_at=[4,8]", f"hydra.run.dir={run}", *extra]  # fmt: skip


def _patched_gantrain(setup: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """gantrain's own main() in a process that first runs setup (the fault's injection)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(gantrain_argv(args, setup), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)  # fmt: skip


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


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


def test_a_full_disk_at_a_checkpoint_keeps_the_one_before(mnist_root, tmp_path):
    run = tmp_path / "run"
    out = _patched_gantrain(FULL_DISK_AT_SECOND_CHECKPOINT,
                            _cli_args(mnist_root, run, ["trainer.rounds=6"]), tmp_path)  # fmt: skip
    assert out.returncode == 2
    line = _one_error_line(out.stderr)
    assert (
        f"could not write the checkpoint {run}/checkpoints/last.pt: no space left on device" in line
    )
    assert "intact checkpoints: last.pt (round 2)" in line and f"gantrain resume={run}" in line
    assert not list(run.rglob("*.tmp"))
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 2
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "no space left on device" in summary["error"]


def test_a_real_size_limit_before_any_checkpoint(mnist_root, tmp_path):
    """The kernel refuses the write (RLIMIT_FSIZE: each file at most 64 KB, a checkpoint is more)."""
    run = tmp_path / "run"
    exe = Path(sys.executable).with_name("gantrain")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    out = subprocess.run([str(exe), *_cli_args(mnist_root, run, ["trainer.rounds=4"])],
                         cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=300, preexec_fn=limit)  # fmt: skip
    assert out.returncode == 2
    line = _one_error_line(out.stderr)
    assert "could not write the checkpoint" in line and "file too large" in line
    assert "no checkpoint was written yet" in line
    assert not list(run.rglob("*.tmp")) and not (run / "checkpoints" / "last.pt").exists()
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    for row in (run / "metrics.jsonl").read_text().splitlines():
        json.loads(row)  # what was written stays whole


@pytest.fixture()
def small_disk(tmp_path):
    """A 3 MB filesystem (tmpfs), where this machine lets the tests mount one."""
    where = tmp_path / "small"
    where.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({made.stderr.strip()})")
    yield where
    subprocess.run(["umount", str(where)], check=True)


def test_a_run_on_a_filesystem_too_small_for_it(mnist_root, small_disk, tmp_path):
    run = small_disk / "run"
    every_10 = "[" + ",".join(str(r) for r in range(10, 201, 10)) + "]"
    args = [f"dataset.root={mnist_root}", *TINY, *CRITIC, "trainer.rounds=200",
            f"trainer.sample_at={every_10}", "trainer.checkpoint_every=10",
            "trainer.keep_checkpoints=100", f"hydra.run.dir={run}"]  # fmt: skip
    out = run_cli(args, tmp_path)
    assert out.returncode == 2
    line = _one_error_line(out.stderr + out.stdout)
    assert "no space left on device" in line and f"gantrain resume={run}" in line
    assert not list(run.rglob("*.tmp"))
    rnd = checkpoint.load(run / "checkpoints" / "last.pt")["round"]
    assert 10 <= rnd < 200 and f"last.pt (round {rnd})" in line
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "no space left on device" in summary["error"]


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
    out = _patched_gantrain(setup, _cli_args(mnist_root, run, ["trainer.rounds=6"]), tmp_path)
    assert out.returncode == 2
    assert "could not write the picture" in _one_error_line(out.stderr)
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
    out = run_cli(_cli_args(mnist_root, run, ["trainer.rounds=10"]), tmp_path)
    assert out.returncode == 0, out.stderr
    return run


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


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


def test_no_intact_checkpoint_is_one_line(finished_run, tmp_path):
    for ckpt in (finished_run / "checkpoints").glob("*.pt"):
        _truncate(ckpt)
    out = run_cli([f"resume={finished_run}", "trainer.rounds=12"], tmp_path)
    assert out.returncode == 2
    assert "no milestone checkpoint (round_*.pt) beside it is intact" in _one_error_line(out.stderr)


def test_sample_and_eval_name_the_intact_checkpoints(finished_run, tmp_path):
    _truncate(finished_run / "checkpoints" / "last.pt")
    for script, extra in (("gantrain-sample", ["out=x.npz"]), ("gantrain-eval", [])):
        out = run_cli([f"run_dir={finished_run}", *extra], tmp_path, script=script)
        assert out.returncode == 2
        line = _one_error_line(out.stderr)
        assert "round_000008.pt (round 8), round_000004.pt (round 4)" in line
        assert f"checkpoint={finished_run}/checkpoints/NAME" in line


# ---- signals at awkward moments: the process signals itself there ----


def _signal_self(signum=signal.SIGTERM):
    os.kill(os.getpid(), signum)


def test_sigterm_during_an_evaluation(mnist_root, tmp_path, monkeypatch):
    from gantrain.training import evaluation

    def make_evaluator(*args, **kwargs):
        def evaluate(model):
            _signal_self()
            return {"fid": 1.0}

        return evaluate

    monkeypatch.setattr(evaluation, "make_evaluator", make_evaluator)
    with pytest.raises(Interrupted) as stop:
        tiny_train([*CRITIC, "trainer.rounds=50", "eval.at=[3]"], tmp_path, mnist_root)
    assert stop.value.exit_code == 143 and stop.value.round == 3
    assert checkpoint.load(tmp_path / "checkpoints" / "last.pt")["round"] == 3


def test_sigint_during_a_milestone_grid(mnist_root, tmp_path, monkeypatch):
    from gantrain.record.pictures import Pictures

    real = Pictures.milestone

    def milestone(self, rnd, *args):
        _signal_self(signal.SIGINT)
        return real(self, rnd, *args)

    monkeypatch.setattr(Pictures, "milestone", milestone)
    with pytest.raises(Interrupted) as stop:
        tiny_train([*CRITIC, "trainer.rounds=50", "trainer.sample_at=[2]"], tmp_path, mnist_root)
    assert stop.value.exit_code == 130 and stop.value.round == 2
    assert (tmp_path / "samples" / "round_000002.png").is_file()
    assert checkpoint.load(tmp_path / "checkpoints" / "last.pt")["round"] == 2


def test_sigterm_during_the_first_checkpoint_write(mnist_root, tmp_path, monkeypatch):
    real = checkpoint.atomic

    def atomic(path, what):
        _signal_self()  # arrives while the checkpoint is being written
        return real(path, what)

    monkeypatch.setattr(checkpoint, "atomic", atomic)
    with pytest.raises(Interrupted) as stop:
        tiny_train([*CRITIC, "trainer.rounds=50", "trainer.checkpoint_every=3"], tmp_path,
                   mnist_root)  # fmt: skip
    assert stop.value.round == 3
    assert checkpoint.load(tmp_path / "checkpoints" / "last.pt")["round"] == 3
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_second_ctrl_c_during_a_write_leaves_the_previous_checkpoint(mnist_root, tmp_path):
    setup = """
    import builtins, os, signal
    import gantrain.training.checkpoint as checkpoint
    real_open, writes = builtins.open, [0]
    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            writes[0] += 1
            if writes[0] == 2:  # the second checkpoint: Ctrl-C, and Ctrl-C again, mid-write
                f.write(b"half a checkpoint")
                f.flush()
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
        return f
    checkpoint.open = fake_open
    """
    run = tmp_path / "run"
    out = _patched_gantrain(setup, _cli_args(mnist_root, run, ["trainer.rounds=50"]), tmp_path)
    assert out.returncode == 130
    assert (run / "checkpoints" / "last.pt.tmp").is_file()  # the write was cut short...
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 2  # ...the last one whole
    resumed = run_cli([f"resume={run}", "trainer.rounds=4"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 4
    assert not list(run.rglob("*.tmp"))  # the cut-short write is cleared away on resume
