"""Several real processes (torchrun, gloo on the CPU) train as one: the same weights as one
process with the same total batch, EMA and ADA's p alike on every rank, one console and one run
directory, and two nodes on one machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import run_cli

TORCHRUN = Path(sys.executable).with_name("torchrun")
SMALL = [
    "device=cpu",
    "device.threads=1",
    "trainer.batch_size=16",
    "model.width=8",
    "model.max_width=16",
    "eval.at=[]",
    "hydra.run.dir=run",
]
# the autoencoder's nets hold BatchNorm: alike only with global statistics (sync_batchnorm)
AE = [
    "model=ae",
    "objective=mle",
    "trainer.rounds=20",
    "trainer.sample_at=[20]",
    "trainer.log_every=1",
]


def torchrun(args: list[str], cwd: Path, launch: list[str], env: dict | None = None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [str(TORCHRUN), *launch, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


def losses(run: Path) -> list[float]:
    rows = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(r)["loss"] for r in rows if '"loss"' in r]


@pytest.mark.slow
def test_two_processes_train_the_weights_of_one_with_the_same_total_batch(mnist_root, tmp_path):
    args = [f"dataset.root={mnist_root}", *SMALL, *AE]
    (tmp_path / "one").mkdir()
    one = run_cli(args, tmp_path / "one")
    assert one.returncode == 0, one.stderr[-2000:]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    (tmp_path / "two").mkdir()
    two = torchrun(
        ["-m", "gantrain", *args],
        tmp_path / "two",
        ["--nproc_per_node=2"],
        {"TMPDIR": str(scratch)},
    )
    assert two.returncode == 0, two.stderr[-2000:]
    a, b = weights(tmp_path / "one" / "run"), weights(tmp_path / "two" / "run")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5, rtol=1e-4), k
    # every round's loss alike (the same global batches), and falling (they trained)
    la, lb = losses(tmp_path / "one" / "run"), losses(tmp_path / "two" / "run")
    assert len(la) == len(lb) == 20 and la[-1] < la[0]
    assert la == pytest.approx(lb, rel=1e-4)
    # one console: the start-up and the end are said once, by rank 0; no scratch folder stays
    said = two.stdout + two.stderr
    assert said.count("model=ae objective=mle") == 1, said
    assert said.count("done: ") == 1 and "gantrain-rank1" not in said, said
    assert "batch: 16 images a step = 2 processes x 8" in said
    assert [p.name for p in scratch.iterdir() if "gantrain" in p.name] == []  # torch's own stay
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["run"]


# a rank's EMA and ADA state once training ends, saved by every rank (rank 0 alone writes the run)
SPY = """
import os, sys, torch
from gantrain.training import trainer
from gantrain.commands.train import main

summary = trainer.summary_of

def spy(t, *a):
    st = t.state
    torch.save({"ema": st.ema.state_dict(), "p": st.objective.augment.p.clone(),
                "model": st.model.state_dict()}, f"rank{os.environ['RANK']}.pt")
    return summary(t, *a)

trainer.summary_of = spy
sys.argv = ["gantrain", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_ema_and_ada_p_are_alike_on_every_rank(mnist_root, tmp_path):
    (tmp_path / "spy.py").write_text(SPY)
    args = [
        f"dataset.root={mnist_root}",
        *SMALL,
        "trainer.rounds=8",
        "trainer.sample_at=[8]",
        "trainer.ema_decay=0.9",
        "objective.augment.kind=ada",
        "objective.augment.ada_kimg=0.01",
        "objective.critic.width=8",
        "objective.critic.max_width=16",
    ]
    out = torchrun(["spy.py", *args], tmp_path, ["--nproc_per_node=2"])
    assert out.returncode == 0, out.stderr[-2000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert float(r0["p"]) > 0  # p moved, and by the counts of both ranks' images alike
    assert torch.equal(r0["p"], r1["p"])
    for part in ("model", "ema"):  # BatchNorm's running statistics too: global ones
        for k in r0[part]:
            assert torch.equal(r0[part][k], r1[part][k]), (part, k)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "sync_batchnorm=True" in log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_on_one_machine_train_one_run(mnist_root, tmp_path):
    args = [
        "-m",
        "gantrain",
        f"dataset.root={mnist_root}",
        *SMALL,
        "trainer.rounds=4",
        "trainer.sample_at=[4]",
        "objective.critic.width=8",
        "objective.critic.max_width=16",
    ]
    rendezvous = [
        "--nnodes=2",
        "--nproc_per_node=1",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(
            [str(TORCHRUN), *rendezvous, f"--node_rank={n}", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in (0, 1)
    ]
    said = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    run = tmp_path / "run"
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"] == 4
    assert "processes=2" in (run / "train.log").read_text()
    assert "done: " in said[0] and "done: " not in said[1]


def test_the_slurm_gpus_preset_starts_one_task_per_gpu():
    from helpers import compose_cfg
    from omegaconf import OmegaConf

    launcher = compose_cfg(["hydra/launcher=slurm_gpus", "hydra.launcher.gpus_per_node=8"])
    launcher = OmegaConf.to_container(launcher.hydra.launcher, resolve=True)
    assert launcher["tasks_per_node"] == launcher["gpus_per_node"] == 8
    assert launcher["_target_"].endswith("SlurmLauncher")


@pytest.mark.slow
def test_a_launcher_job_of_two_tasks_trains_one_run(mnist_root, tmp_path):
    """What hydra/launcher=slurm_gpus does on a cluster, with submitit's local executor."""
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.tasks_per_node=2",
        "hydra.sweep.dir=sweep",
        f"dataset.root={mnist_root}",
        *[a for a in SMALL if not a.startswith("hydra.run")],
        "trainer.rounds=4",
        "trainer.sample_at=[4]",
        "objective.critic.width=8",
        "objective.critic.max_width=16",
    ]
    out = run_cli(args, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    job = tmp_path / "sweep" / "0"
    assert torch.load(job / "checkpoints" / "last.pt", weights_only=True)["round"] == 4
    log = (job / "train.log").read_text()
    assert "processes=2" in log and log.count("model=dcgan") == 1
    assert json.loads((job / "summary.json").read_text())["status"] == "done"
