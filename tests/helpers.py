"""Helpers the tests share: composing configs, tiny training runs, running gantrain in a process
(tiny dataset files: data_files.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from gantrain.config import conf_dir


def compose_cfg(overrides: list[str]):
    """The composed config for a command line, as gantrain would see it."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def without_hydra(cfg):
    from omegaconf import OmegaConf

    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def names_of(cfg) -> dict:
    return dict(cfg.hydra.runtime.choices)


TINY = [
    "device=cpu",
    "trainer.batch_size=16",
    "trainer.log_every=1",
    "model.width=8",
    "model.max_width=16",
]


def tiny_train(overrides: list[str], run_dir: Path, mnist_root: Path) -> dict:
    """Train in-process with tiny nets on the tiny MNIST; returns summary.json's content."""
    return tiny_train_on([f"dataset.root={mnist_root}", *overrides], run_dir)


def tiny_train_saved(overrides: list[str], run_dir: Path, mnist_root: Path) -> Path:
    """tiny_train, plus the .hydra/overrides.yaml a real `gantrain` command line would have saved."""
    tiny_train(overrides, run_dir, mnist_root)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    saved = [f"dataset.root={mnist_root}", *TINY, *overrides]
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in saved))
    return run_dir


def gantrain_argv(args: list[str], setup: str = "") -> list[str]:
    """The argv that runs gantrain with args; with setup, gantrain's main() in a Python process
    that first runs setup (a fault to inject, a CPU feature to pretend)."""
    if not setup:
        return [str(Path(sys.executable).with_name("gantrain")), *args]
    import textwrap

    code = textwrap.dedent(setup) + (
        "\nimport sys\nfrom gantrain.commands.train import main\n"
        f"sys.argv = ['gantrain', *{args!r}]\nmain()\n"
    )
    return [sys.executable, "-c", code]


def run_cli(
    args: list[str],
    cwd: Path,
    script: str = "gantrain",
    timeout: int = 300,
    env: dict | None = None,
):
    """Run an installed console script as a user would (env: variables to add or replace);
    returns CompletedProcess."""
    exe = Path(sys.executable).with_name(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "", **(env or {})}
    env.pop("HYDRA_FULL_ERROR")
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def tiny_train_on(overrides: list[str], run_dir: Path) -> dict:
    """Train in-process with tiny nets, the config checked as gantrain checks it; the overrides
    choose the dataset (and its root, where it has one)."""
    from hydra.core.hydra_config import HydraConfig

    from gantrain.commands.train import schema, train

    cfg = compose_cfg([*TINY, *overrides])
    names = names_of(cfg)
    HydraConfig.instance().set_config(cfg)  # resolvers such as ${hydra:...} stay usable
    cfg = without_hydra(cfg)
    schema().check(cfg)
    torch.set_num_threads(1)
    return train(cfg, run_dir, names)


# fault tests: tiny nets, a checkpoint every 2 rounds, milestones at 4 and 8
CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]


def cli_args(root: Path, run: Path, extra=()) -> list[str]:
    return [
        f"dataset.root={root}",
        *TINY,
        *CRITIC,
        "trainer.checkpoint_every=2",
        "trainer.sample_at=[4,8]",
        f"hydra.run.dir={run}",
        *extra,
    ]


def patched_gantrain(setup: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """gantrain's own main() in a process that first runs setup (the fault's injection)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        gantrain_argv(args, setup),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def one_error_line(stderr: str) -> str:
    """The one line of stderr that mentions an error, where there is no traceback."""
    lines = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def small_filesystem(where: Path, size: str):
    """Yields where with a tmpfs of size (e.g. "3m") mounted on it, where this machine lets the
    tests mount one (else the test is skipped); unmounted afterwards. For fixtures."""
    import pytest

    where.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here ({made.stderr.strip()})")
    yield where
    subprocess.run(["umount", str(where)], check=True)


# what a crafted config must leave unchanged in the file it aims at
VICTIM_TEXT = "a user's notes\n"


def script_error_line(done, script: str) -> str:
    """The one "SCRIPT: error:" line of a finished process that exited 2, without a traceback."""
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith(f"{script}: error:"), done.stderr
    return line
