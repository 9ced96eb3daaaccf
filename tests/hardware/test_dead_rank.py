"""A rank killed mid-run (SIGKILL: the out-of-memory killer, a lost node) ends the run on every
other rank within a bounded time, with one line naming it and the command that continues; that
command then ends with the weights of a run that never stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import CRITIC

# rank 1 stops answering once it has passed round 9 (rounds 1-8 checkpointed by every rank):
# the test then kills it, so the other rank is always waiting in round 10's all-reduce
STALL_RANK_1 = """
import os, sys, time
if os.environ["RANK"] == "1":
    from gantrain.record.monitor import NullMonitor
    rounds = iter(range(1, 10**6))
    def advance(self):
        if next(rounds) == 9:
            open("rank1.pid", "w").write(str(os.getpid()))
            time.sleep(3600)
    NullMonitor.advance = advance
from gantrain.commands.train import main
main()
"""
ARGS = [
    "device=cpu",
    "device.threads=1",
    "trainer.rounds=14",
    "trainer.sample_at=[14]",
    "trainer.batch_size=16",
    "trainer.checkpoint_every=4",
    "trainer.deterministic=true",
    "model.width=8",
    "model.max_width=16",
    *CRITIC,
]
# what the survivors may take after the kill: the roll call of the living (3 s), ending the
# process group and the interpreter; far below device.collective_timeout (60 s)
BOUND_S = 20


TORCHRUN = str(Path(sys.executable).with_name("torchrun"))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TORCHRUN, *args] if args[0] != TORCHRUN else args,
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": ""}


def _signal_rank_1(cwd: Path, root: Path, sig: int, *extra: str) -> tuple[float, str]:
    """Start the stalling run in cwd, send rank 1 sig once it passed round 9; (seconds until
    rank 0's one line, torchrun's stderr once it ended)."""
    cwd.mkdir()
    (cwd / "start.py").write_text(STALL_RANK_1)
    cmd = [
        TORCHRUN,
        "--nproc_per_node=2",
        "start.py",
        f"dataset.root={root}",
        *ARGS,
        *extra,
        "hydra.run.dir=run",
    ]
    with open(cwd / "stdout", "w") as out, open(cwd / "stderr", "w") as err:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    pid_file, stderr = cwd / "rank1.pid", cwd / "stderr"
    try:
        start = time.monotonic()
        while not (pid_file.is_file() and pid_file.read_text()):
            assert proc.poll() is None, stderr.read_text()[-2000:]
            assert time.monotonic() - start < 240, "rank 1 never reached round 9"
            time.sleep(0.1)
        os.kill(rank_1 := int(pid_file.read_text()), sig)
        sent = time.monotonic()
        while "gantrain: error:" not in stderr.read_text() and time.monotonic() - sent < 120:
            time.sleep(0.1)
        took = time.monotonic() - sent
        if sig != signal.SIGKILL:  # a stopped rank stays stopped: torchrun would wait 30 s
            os.kill(rank_1, signal.SIGKILL)
        proc.wait(timeout=120)
        return took, stderr.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_a_killed_rank_ends_the_run_and_resume_continues_exactly(mnist_root, tmp_path):
    took, err = _signal_rank_1(
        tmp_path / "killed", mnist_root, signal.SIGKILL, "device.collective_timeout=60"
    )
    assert took < BOUND_S, f"the survivor took {took:.1f} s to end"
    lines = [ln for ln in err.splitlines() if ln.startswith("gantrain: error:")]
    assert len(lines) == 1, err[-3000:]
    line = lines[0]
    assert "rank 0 of 2: rank 1 died or stopped answering" in line, line
    assert "checkpoints: last.pt (round 8)" in line, line
    assert not re.search(r'File ".*gantrain/', err), err[-3000:]  # torchrun's own, not ours
    run = tmp_path / "killed" / "run"
    resume = re.search(r"continue with: (.*)$", line).group(1).split()
    assert resume == ["torchrun", "--nproc_per_node=2", "-m", "gantrain", f"resume={run}"]
    # the command as printed continues the run to round 14 ...
    out = _run([TORCHRUN, *resume[1:]], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    # ... and ends with the weights of a run that was never stopped
    (tmp_path / "whole").mkdir()
    whole = _run(
        [
            "--nproc_per_node=2",
            "-m",
            "gantrain",
            f"dataset.root={mnist_root}",
            *ARGS,
            "hydra.run.dir=run",
        ],
        tmp_path / "whole",
    )
    assert whole.returncode == 0, whole.stderr[-2000:]
    a = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "whole" / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert a["round"] == b["round"] == 14
    for key in b["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


@pytest.mark.slow
def test_a_rank_that_stops_answering_ends_the_run_after_the_collective_timeout(
    mnist_root, tmp_path
):
    # SIGSTOP: the process lives on with its connections open, as behind a lost network link
    took, err = _signal_rank_1(
        tmp_path / "stopped", mnist_root, signal.SIGSTOP, "device.collective_timeout=5"
    )
    # the timeout runs from when rank 0 began to wait, a moment before the signal
    assert 4 <= took < 5 + BOUND_S, f"rank 0 ended {took:.1f} s after rank 1 stopped"
    line = next(ln for ln in err.splitlines() if ln.startswith("gantrain: error:"))
    assert line.startswith("gantrain: error: rank 0 of 2: rank 1 died or stopped answering (Timed")
    assert "checkpoints: last.pt (round 8)" in line


def test_which_errors_are_a_lost_peer(monkeypatch):
    from gantrain.hardware.distributed import collective_failed

    gloo = RuntimeError("[/x/gloo/transport/tcp/pair.cc:545] Read error [::1]:99: Connection reset")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert collective_failed(gloo)
    assert not collective_failed(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process has no peer to lose
    assert not collective_failed(gloo)


def test_the_line_names_the_nodes_and_where_the_run_is(monkeypatch, tmp_path):
    from gantrain.hardware.distributed import peer_lost

    gloo = RuntimeError("[/x/gloo/pair.cc:1] Timed out waiting 60000ms for recv. More words")
    for key, value in {"WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "RANK": "2"}.items():
        monkeypatch.setenv(key, value)
    line = str(peer_lost(gloo, tmp_path, "none"))
    # no process group here, so no roll call: the line cannot tell which rank went silent
    assert line.startswith("rank 2 of 4: another rank died or stopped answering (Timed out ")
    assert "More words" not in line
    assert line.endswith(
        "torchrun --nproc_per_node=2 --nnodes=2 (and the same rendezvous) -m "
        "gantrain resume=RUN (rank 0's run directory)"
    )
