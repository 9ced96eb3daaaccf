"""The run's lock: processes contend for it, a dead holder's lock is taken over, and where flock
does not work the exclusive lock file with host and pid stands in."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gantrain
from gantrain.record import lock

# a process that claims argv[1], says so on stdout, and holds it until its stdin closes; with
# "fork", it first forks a child that outlives it (as a DataLoader worker may, for a moment)
HOLDER = """
import os, sys
from pathlib import Path
from gantrain.record import lock
lock.claim(Path(sys.argv[1]))
if len(sys.argv) > 2:
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        # fork() has returned here, so the at-fork hook has dropped this copy of the lock
        os.write(ready_w, b"x")
        sys.stdin.read()
        os._exit(0)
    os.read(ready_r, 1)  # "held" only once the child no longer holds the lock
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def released():
    yield
    lock.release_all()


def _holder(run: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(gantrain.__file__).parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run), *extra],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "held\n"  # blocks until the claim is taken
    return proc


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_process_is_refused_with_the_holders_pid_host_and_time(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    try:
        with pytest.raises(lock.DirectoryInUse) as refused:
            lock.claim(run)
        message = str(refused.value)
        assert f"in use by gantrain pid {proc.pid} on host {socket.gethostname()} since " in message
        assert message.startswith(f"{run} is in use") and "another hydra.run.dir" in message
        assert "\n" not in message
        assert not lock.holds(run)
        proc.stdin.close()  # the holder finishes: its lock goes with it
        assert proc.wait(timeout=60) == 0
        assert not (run / lock.LOCK_NAME).exists()
        lock.claim(run)
        assert lock.holder(run)["pid"] == os.getpid()
    finally:
        _end(proc)


def test_a_lock_left_by_sigkill_is_taken_over_even_while_a_forked_child_lives(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run, "fork")
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert json.loads((run / lock.LOCK_NAME).read_text())["pid"] == proc.pid  # stale file
        lock.claim(run)  # the child still runs (its stdin is open) but closed its copy at fork
        assert lock.holder(run)["pid"] == os.getpid()
    finally:
        proc.stdin.close()
        _end(proc)


def test_claiming_twice_in_one_process_is_one_claim_and_release_leaves_no_litter(tmp_path):
    run = tmp_path / "a" / "b" / "run"
    lock.claim(run)
    lock.claim(run)
    assert (run / lock.LOCK_NAME).is_file()
    lock.release(run)
    assert not (tmp_path / "a").exists()  # the folders the claim made, empty, went with it
    lock.claim(run)
    (run / "train.log").write_text("kept")
    lock.release(run)
    assert [p.name for p in run.iterdir()] == ["train.log"]


def test_a_refused_claim_creates_nothing(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    try:
        before = sorted(p.name for p in run.iterdir())
        with pytest.raises(lock.DirectoryInUse):
            lock.claim(run)
        assert sorted(p.name for p in run.iterdir()) == before == [lock.LOCK_NAME]
        assert lock.holder(run)["pid"] == proc.pid
    finally:
        _end(proc)


def test_two_new_runs_in_one_second_get_two_directories(tmp_path):
    base = tmp_path / "outputs" / "15-40-02"
    base.mkdir(parents=True)
    first = lock.claim_new(base)
    second = lock.claim_new(base)
    assert (first.name, second.name) == ("15-40-02_2", "15-40-02_3")
    assert lock.holds(first) and lock.holds(second)


@pytest.fixture()
def no_flock(monkeypatch):
    """A file system whose flock answers ENOLCK (as some NFS mounts do)."""

    def refuse(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock, "_flock", refuse)


def _write_lock(run: Path, **fields) -> None:
    run.mkdir(parents=True, exist_ok=True)
    record = {"pid": 1, "host": socket.gethostname(), "since": "2026-12-01 15:40:02", **fields}
    (run / lock.LOCK_NAME).write_text(json.dumps(record))


def test_without_flock_a_dead_pids_lock_file_is_taken_over(tmp_path, no_flock):
    run = tmp_path / "run"
    _write_lock(run, pid=_dead_pid())
    lock.claim(run)
    assert lock.holder(run)["pid"] == os.getpid()
    lock.release(run)
    assert not (run / lock.LOCK_NAME).exists()


def test_without_flock_a_live_pid_on_this_host_holds_the_directory(tmp_path, no_flock):
    run = tmp_path / "run"
    proc = _holder(run)  # its lock file names it; here, with no flock, that record decides
    try:
        with pytest.raises(lock.DirectoryInUse, match=f"gantrain pid {proc.pid} on host"):
            lock.claim(run)
        assert lock.holder(run)["pid"] == proc.pid
    finally:
        _end(proc)


def test_without_flock_a_reused_pid_is_not_the_holder(tmp_path, no_flock):
    run = tmp_path / "run"
    _write_lock(run, pid=os.getpid(), started=-1)  # this pid, but a process started earlier
    lock.claim(run)
    assert lock.holder(run)["started"] != -1


def test_without_flock_another_hosts_lock_is_refused_naming_it(tmp_path, no_flock):
    run = tmp_path / "run"
    _write_lock(run, pid=_dead_pid(), host="node-17")
    with pytest.raises(lock.DirectoryInUse) as refused:
        lock.claim(run)
    message = str(refused.value)
    assert "on host node-17 since 2026-12-01 15:40:02" in message
    assert f"if that run is over, delete {run / lock.LOCK_NAME}" in message
    assert lock.holder(run)["host"] == "node-17"  # left as it was


def test_the_lock_file_is_the_only_thing_in_a_fresh_claim(tmp_path):
    run = tmp_path / "run"
    lock.claim(run)
    assert [p.name for p in run.iterdir()] == [lock.LOCK_NAME]
    record = lock.holder(run)
    assert record["host"] == socket.gethostname() and record["pid"] == os.getpid()
    assert time.strptime(record["since"], "%Y-%m-%d %H:%M:%S")
