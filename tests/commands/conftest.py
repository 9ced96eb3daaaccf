"""Fixtures of the tests that hand the console scripts crafted or broken run directories."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import CRITIC, VICTIM_TEXT, run_cli, tiny_train_saved


@pytest.fixture(scope="module")
def real_run(mnist_root, tmp_path_factory):
    """A tiny DCGAN run with EMA weights, last.pt and a milestone checkpoint at round 2."""
    run = tmp_path_factory.mktemp("real")
    overrides = ["trainer.rounds=2", "trainer.sample_at=[2]", "trainer.ema_decay=0.9", *CRITIC]
    return tiny_train_saved(overrides, run, mnist_root)


@pytest.fixture
def scene(real_run, tmp_path):
    """A copy of the run, a victim file with content, and the path of a file nothing may make."""
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    victim = tmp_path / "notes.txt"
    victim.write_text(VICTIM_TEXT)
    return run, victim, tmp_path / "created.txt"


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run gantrain-sample or gantrain-eval: as the installed console script in a process of its
    own (real=True), or its main() here, which is quicker and runs the same code."""
    from gantrain.commands import evaluate, export, sample, serve

    def call(args: list[str], cwd, script: str, real: bool):
        if real:
            return run_cli(args, cwd, script, timeout=120)
        monkeypatch.setattr(sys, "argv", [script, *args])
        code = 0
        try:
            {
                "gantrain-sample": sample,
                "gantrain-eval": evaluate,
                "gantrain-export": export,
                "gantrain-serve": serve,
            }[script].main()
        except SystemExit as stop:
            code = stop.code
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return call
