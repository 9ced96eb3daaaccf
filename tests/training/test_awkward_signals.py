"""Signals at awkward moments: during an evaluation, a milestone grid, the first checkpoint
write, and a second Ctrl-C mid-write. The process signals itself at the moment in question, so
each case is deterministic."""

from __future__ import annotations

import os
import signal

import pytest
from helpers import CRITIC, cli_args, patched_gantrain, run_cli, tiny_train

from gantrain.training import checkpoint
from gantrain.training.signals import StoppedBySignal


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
    with pytest.raises(StoppedBySignal) as stop:
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
    with pytest.raises(StoppedBySignal) as stop:
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
    with pytest.raises(StoppedBySignal) as stop:
        tiny_train(
            [*CRITIC, "trainer.rounds=50", "trainer.checkpoint_every=3"], tmp_path, mnist_root
        )
    assert stop.value.round == 3
    assert checkpoint.load(tmp_path / "checkpoints" / "last.pt")["round"] == 3
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow
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
    out = patched_gantrain(setup, cli_args(mnist_root, run, ["trainer.rounds=50"]), tmp_path)
    assert out.returncode == 130
    assert (run / "checkpoints" / "last.pt.tmp").is_file()  # the write was cut short...
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 2  # ...the last one whole
    resumed = run_cli([f"resume={run}", "trainer.rounds=4"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert checkpoint.load(run / "checkpoints" / "last.pt")["round"] == 4
    assert not list(run.rglob("*.tmp"))  # the cut-short write is cleared away on resume
