"""What a sweep prints when its output goes to a file or a pipe: every line of a parallel job
names the job, a hint once a sweep and never before a refusal, no colour codes and no plugin
set-up lines."""

import re

import pytest
from helpers import run_cli

pytestmark = pytest.mark.slow  # processes: run by `pytest -m slow`

TINY = [
    "device=cpu",
    "trainer.rounds=3",
    "trainer.sample_at=[3]",
    "trainer.batch_size=16",
    "model.width=8",
    "model.max_width=16",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
    "eval.at=[]",
]
HINT = "this CPU computes bfloat16 natively"


def test_parallel_jobs_name_themselves_on_every_line(mnist_root, tmp_path):
    out = run_cli(
        [
            "-m",
            "seed=0,1",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"dataset.root={mnist_root}",
            *TINY,
            "hydra.sweep.dir=sw",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if "[gantrain" in line]
    assert len(lines) >= 8
    assert all(re.match(r"\[job [01]\] \[", line) for line in lines), lines
    for job in ("0", "1"):
        assert any(line.startswith(f"[job {job}]") and "done: 3 rounds" in line for line in lines)
    assert (out.stdout + out.stderr).count(HINT) <= 1  # once a sweep, by job 0
    log = (tmp_path / "sw" / "1" / "train.log").read_text()
    assert "[job" not in log and HINT not in log  # a job's own file needs no tag


def test_a_refusal_comes_without_a_hint_before_it(tmp_path):
    out = run_cli([f"dataset.root={tmp_path}", "dataset.download=false", "device=cpu"], tmp_path)
    assert out.returncode == 2 and "not found" in out.stderr.strip().splitlines()[-1]
    assert HINT not in out.stdout + out.stderr


def test_optuna_off_a_terminal_writes_no_colour_codes_nor_plugin_lines(mnist_root, tmp_path):
    out = run_cli(
        [
            "-m",
            "hparams_search=optuna_lr",
            "hydra.sweeper.n_trials=1",
            f"dataset.root={mnist_root}",
            *TINY,
            "hydra.sweep.dir=sw",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    both = out.stdout + out.stderr
    assert "\x1b[" not in both and "setup plugin" not in both
    assert "Best value" in both
