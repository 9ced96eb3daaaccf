"""One writer per run directory, with real gantrain processes: while one trains into D, a second
start in D, a resume of D and a sweep job in D are refused in one line naming the holder, and
D's files stay as they were; once the holder is killed (SIGKILL), D resumes with no clean-up."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import CRITIC, TINY, one_error_line, run_cli

from gantrain.cli.claim import DEFERRED, claim_run_dir
from gantrain.record import lock
from gantrain.record.lock import LOCK_NAME

# a run that would train for hours: a checkpoint every round, nothing else written meanwhile
LONG = [
    "trainer.rounds=100000",
    "trainer.checkpoint_every=1",
    "trainer.log_every=100000",
    "trainer.sample_at=[100000]",
    "eval.at=[]",
]


def _args(root: Path, run: Path, extra=()) -> list[str]:
    tiny = [a for a in TINY if not a.startswith("trainer.log_every=")]
    return [f"dataset.root={root}", *tiny, *CRITIC, f"hydra.run.dir={run}", *extra]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(cwd / "holder.err", "w") as err:  # a file, not a pipe: it never fills up
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("gantrain")), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )


def _wait_until_training(proc: subprocess.Popen, run: Path, cwd: Path, timeout=300) -> None:
    """Until proc holds run's lock and has written a checkpoint there."""
    lock, last = run / LOCK_NAME, run / "checkpoints" / "last.pt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the first run ended early: {(cwd / 'holder.err').read_text()}")
        if last.is_file() and lock.is_file():
            try:
                if json.loads(lock.read_text())["pid"] == proc.pid:
                    return
            except ValueError:
                pass  # read while being written
        time.sleep(0.05)
    pytest.fail("the first run wrote no checkpoint in time")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)


def _files(run: Path) -> dict:
    """Every file's bytes and modification time, but the checkpoints the holder keeps writing."""
    return {
        str(p.relative_to(run)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(run.rglob("*"))
        if p.is_file() and "checkpoints" not in p.parts
    }


@pytest.fixture(scope="module")
def training(mnist_root, tmp_path_factory):
    """A gantrain process training into SWEEP/0; yields (process, its run dir, a cwd)."""
    cwd = tmp_path_factory.mktemp("one_writer")
    run = cwd / "sweep" / "0"
    proc = _start(_args(mnist_root, run, LONG), cwd)
    try:
        _wait_until_training(proc, run, cwd)
        yield proc, run, cwd
    finally:
        _stop(proc)


def _refused(out: subprocess.CompletedProcess, holder: subprocess.Popen, code: int = 2) -> str:
    assert out.returncode == code, out.stderr
    line = one_error_line(out.stderr)
    assert f"is in use by gantrain pid {holder.pid} on host " in line and " since " in line
    return line


@pytest.mark.slow
def test_a_second_run_into_a_directory_in_use_is_refused(training, mnist_root):
    proc, run, cwd = training
    before = _files(run)
    assert {".hydra/config.yaml", "train.log", LOCK_NAME} <= set(before)
    out = run_cli(_args(mnist_root, run, ["trainer.rounds=2"]), cwd)
    line = _refused(out, proc)
    assert line.startswith(f"gantrain: error: {run} is in use") and "hydra.run.dir" in line
    assert _files(run) == before
    assert proc.poll() is None


@pytest.mark.slow
def test_resuming_a_run_that_still_trains_is_refused(training):
    proc, run, cwd = training
    before = _files(run)
    out = run_cli([f"resume={run}", "trainer.rounds=200000"], cwd)
    line = _refused(out, proc)
    assert f"resume it once it has stopped (kill {proc.pid}" in line
    assert _files(run) == before
    assert proc.poll() is None


@pytest.mark.slow
def test_a_sweep_job_in_a_directory_in_use_fails_and_the_others_run(training, mnist_root):
    proc, run, cwd = training
    before = _files(run)
    sweep = run.parent
    args = [a for a in _args(mnist_root, run) if not a.startswith("hydra.run.dir=")]
    out = run_cli(
        ["-m", *args, "trainer.rounds=2", "eval.at=[]", f"hydra.sweep.dir={sweep}", "seed=0,1"], cwd
    )
    line = _refused(out, proc, code=1)
    assert f"{run} is in use" in line and "hydra.sweep.dir" in line
    assert _files(run) == before
    assert json.loads((sweep / "1" / "summary.json").read_text())["status"] == "done"
    assert not (sweep / "1" / LOCK_NAME).exists()
    assert proc.poll() is None


@pytest.mark.slow
def test_a_run_killed_by_sigkill_resumes_without_clean_up(mnist_root, tmp_path):
    run = tmp_path / "run"
    proc = _start(_args(mnist_root, run, LONG), tmp_path)
    try:
        _wait_until_training(proc, run, tmp_path)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert json.loads((run / LOCK_NAME).read_text())["pid"] == proc.pid  # the file stays
        reached = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"]
        out = run_cli([f"resume={run}", f"trainer.rounds={reached + 2}"], tmp_path)
        assert out.returncode == 0, out.stderr
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "done" and summary["rounds"] == reached + 2
        assert not (run / LOCK_NAME).exists()  # a run that ends removes its lock
    finally:
        _stop(proc)


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    lock.release_all()


def test_the_default_run_directory_is_pinned_and_claimed_before_hydra_runs(in_tmp):
    args = claim_run_dir(["seed=1"])
    assert args[0] == "seed=1" and args[1].startswith("hydra.run.dir=outputs/")
    run = Path(args[1].split("=", 1)[1])
    assert lock.holds(run) and [p.name for p in run.iterdir()] == [LOCK_NAME]
    assert re.fullmatch(r"outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d(_\d+)?", str(run))


def test_no_job_no_claim_and_a_sweep_leaves_dot_hydra_to_its_jobs(in_tmp):
    for args in (["--cfg", "job"], ["--help"], ["-cn", "mine"], ["hydra.run.dir=r/${now:%H}"]):
        assert claim_run_dir(args) == args
    assert claim_run_dir(["-m", "seed=0,1"]) == ["-m", "seed=0,1", *DEFERRED]
    mine = ["-m", "seed=0,1", "hydra.output_subdir=meta"]
    assert claim_run_dir(mine) == mine
    assert not list(in_tmp.iterdir())  # nothing written


def test_a_directory_in_use_refused_for_a_resume_says_how_to_stop_it(in_tmp):
    run = in_tmp / "run"
    run.mkdir()
    (run / LOCK_NAME).write_text("")
    with open(run / LOCK_NAME) as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another open file: to the lock, another process
        (run / LOCK_NAME).write_text(json.dumps({"pid": 4321, "host": "h", "since": "then"}))
        with pytest.raises(lock.DirectoryInUse) as refused:
            claim_run_dir([f"resume={run}", f"hydra.run.dir={run}"])
    assert str(refused.value) == (
        f"{run} is in use by gantrain pid 4321 on host h since then; it is still training: "
        "resume it once it has stopped (kill 4321 stops it with a checkpoint)"
    )
