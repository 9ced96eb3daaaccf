"""Preemption on a cluster: submitit's preemption/timeout signal (SIGUSR2) in a job of the
submitit launcher checkpoints the round, the launcher requeues the job, and the requeued job
ends with the weights of one never preempted. Run with submitit's local executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import CRITIC, TINY, run_cli

# loaded by every Python process of the test; in the first submitit job process only, the
# job waits after round 5 until the test has sent it the signal
HOOK = """
import os
from pathlib import Path
here = Path(os.environ["PREEMPT_TEST_DIR"])
if "SUBMITIT_LOCAL_JOB_ID" in os.environ and not (here / "stalled").exists():
    import time
    from gantrain.record.monitor import Monitor
    advance, rounds = Monitor.advance, iter(range(1, 10**6))
    def stall(self):
        advance(self)
        if next(rounds) == 5:
            (here / "stalled").write_text(str(os.getpid()))
            for _ in range(2400):  # the signal's handler runs between these naps
                if (here / "go").exists():
                    break
                time.sleep(0.05)
    Monitor.advance = stall
"""
ARGS = [
    *TINY,
    *CRITIC,
    "device.threads=1",
    "trainer.rounds=12",
    "trainer.sample_at=[12]",
    "trainer.checkpoint_every=100",
    "trainer.deterministic=true",
    "seed=3",
]


@pytest.mark.slow
def test_a_preempted_submitit_job_is_requeued_and_ends_as_if_never_stopped(mnist_root, tmp_path):
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PREEMPT_TEST_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "hook"), *sys.path]),
    }
    env.pop("HYDRA_FULL_ERROR", None)
    cmd = [
        str(Path(sys.executable).with_name("gantrain")),
        "-m",
        "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"dataset.root={mnist_root}",
        *ARGS,
    ]
    with open(tmp_path / "out", "w") as out:
        sweep = subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        start = time.monotonic()
        while not (tmp_path / "stalled").is_file() or not (tmp_path / "stalled").read_text():
            assert sweep.poll() is None, (tmp_path / "out").read_text()[-3000:]
            assert time.monotonic() - start < 240, "the job never reached round 5"
            time.sleep(0.1)
        os.kill(int((tmp_path / "stalled").read_text()), signal.SIGUSR2)
        (tmp_path / "go").touch()
        assert sweep.wait(timeout=300) == 0, (tmp_path / "out").read_text()[-3000:]
    finally:
        if sweep.poll() is None:
            sweep.kill()
    job = tmp_path / "sweep" / "0"
    log = (job / "train.log").read_text()
    assert "stopped by SIGUSR2 after round 5; the launcher requeues the job" in log
    summary = json.loads((job / "summary.json").read_text())
    assert (summary["status"], summary["rounds"], summary["resumed_from"]) == ("done", 12, 5)
    # the same training in one piece, without the launcher
    whole = run_cli([f"dataset.root={mnist_root}", *ARGS, "hydra.run.dir=whole"], tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]
    a = torch.load(job / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)
    assert a["round"] == b["round"] == 12
    for key in b["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key


def test_the_submitit_signal_is_handed_back_after_the_checkpoint():
    from gantrain.training.signals import StoppedBySignal, StopRequests

    def submitits(signum, frame):  # stands for submitit's checkpoint-and-requeue handler
        raise AssertionError("called before the round's checkpoint")

    submitits.__module__ = "submitit.core.job_environment"
    before = signal.signal(signal.SIGUSR2, submitits)
    try:
        with pytest.raises(StoppedBySignal) as stop, StopRequests() as requests:
            os.kill(os.getpid(), signal.SIGUSR2)
            assert requests.signum == signal.SIGUSR2  # recorded, not acted on, mid-round
            raise StoppedBySignal(requests.signum, 7)
        assert stop.value.then is submitits and stop.value.round == 7
        assert signal.getsignal(signal.SIGUSR2) is submitits
    finally:
        signal.signal(signal.SIGUSR2, before)


def test_without_submitit_sigusr2_is_left_alone():
    from gantrain.training.signals import StopRequests

    with StopRequests() as requests:
        assert signal.getsignal(signal.SIGUSR2) in (signal.SIG_DFL, None)
        assert requests.chained == ()
