"""Never lose a run: SIGKILL + resume is bit-identical, signals checkpoint, configs are checked."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from helpers import gantrain_argv, run_cli

TINY = [
    "device=cpu",
    "device.threads=1",
    "trainer.batch_size=16",
    "model.width=8",
    "model.max_width=16",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
]


def _args(root, run, rounds=24, extra=()):
    return [
        f"dataset.root={root}",
        *TINY,
        f"trainer.rounds={rounds}",
        "trainer.checkpoint_every=3",
        "trainer.sample_at=[12,24]",
        "trainer.log_every=2",
        "trainer.deterministic=true",
        "trainer.ema_decay=0.9",
        f"hydra.run.dir={run}",
        *extra,
    ]


def _start(args, cwd, setup: str = ""):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        gantrain_argv(args, setup),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def _wait_for_round(run: Path, rnd: int, proc, timeout=120):
    """Until the checkpoint has reached rnd (read atomically: last.pt is renamed into place)."""
    last = run / "checkpoints" / "last.pt"
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail(f"finished before round {rnd}: {proc.stderr.read()}")
        if last.is_file() and torch.load(last, weights_only=True)["round"] >= rnd:
            return
        time.sleep(0.05)
    pytest.fail("no checkpoint in time")


def _weights(run: Path) -> dict:
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    return {
        **ckpt["model"],
        **{f"ema.{k}": v for k, v in ckpt["ema"].items()},
        **{f"critic.{k}": v for k, v in ckpt["objective"]["critic"].items()},
    }


@pytest.fixture(scope="module")
def uninterrupted(mnist_root, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("a")
    out = run_cli(_args(mnist_root, cwd / "run"), cwd)
    assert out.returncode == 0, out.stderr
    return cwd / "run"


def _kill_and_resume(args, run: Path, cwd: Path, kill_at: int, setup: str = "") -> None:
    proc = _start(args, cwd, setup)
    _wait_for_round(run, kill_at, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"] < 24
    out = subprocess.run(
        gantrain_argv([f"resume={run}"], setup),
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr


def _assert_same_run(a: Path, b: Path, pictures=("samples",)) -> None:
    for folder in pictures:
        names = sorted(p.name for p in (a / folder).glob("*.png"))
        assert names and names == sorted(p.name for p in (b / folder).glob("*.png"))
        for name in names:
            assert (a / folder / name).read_bytes() == (b / folder / name).read_bytes(), name
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(uninterrupted, mnist_root, tmp_path):
    run = tmp_path / "run"
    # past a checkpoint and between two of them, mid-log-window
    _kill_and_resume(_args(mnist_root, run), run, tmp_path, kill_at=7)
    _assert_same_run(uninterrupted, run)


@pytest.mark.slow
def test_sigkill_resume_identity_for_a_vae_gan(mnist_root, tmp_path):
    # reparameterisation noise, reconstructions and a critic all have to come back exactly
    extra = ["model=vae", "objective=adversarial"]
    out = run_cli(_args(mnist_root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    _kill_and_resume(_args(mnist_root, tmp_path / "b", extra=extra), tmp_path / "b", tmp_path, 13)
    _assert_same_run(tmp_path / "a", tmp_path / "b", ("samples", "reconstructions"))


@pytest.mark.slow
def test_sigkill_resume_identity_for_wgan_gp_with_lazy_r1(mnist_root, tmp_path):
    # the interpolation draws, the penalties' step count and the lazy schedule come back exactly
    extra = [
        "objective.loss.kind=wasserstein",
        "objective.penalties.gradient=10",
        "objective.critic_steps=2",
        "objective.critic.norm=layer",
        "objective.penalties.r1=1",
        "objective.penalties.r1_every=3",
    ]
    out = run_cli(_args(mnist_root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    _kill_and_resume(_args(mnist_root, tmp_path / "b", extra=extra), tmp_path / "b", tmp_path, 8)
    _assert_same_run(tmp_path / "a", tmp_path / "b")


@pytest.mark.slow
def test_sigkill_resume_identity_for_a_conditional_dcgan(mnist_root, tmp_path):
    # labels travel with their images through the batch order, the grids and the projection critic
    extra = ["conditional=true"]
    out = run_cli(_args(mnist_root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    _kill_and_resume(_args(mnist_root, tmp_path / "b", extra=extra), tmp_path / "b", tmp_path, 10)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    assert "critic.projection.weight" in _weights(tmp_path / "b")


@pytest.mark.slow
def test_sigkill_resume_identity_for_streamed_conditional_data(tmp_path):
    # a resumed stream starts a DataLoader iterator mid-epoch: it must not move the global
    # generator that the noise comes from, and each streamed image keeps its label
    from data_files import coloured_picture

    for c, name in enumerate(["a", "b", "c"]):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(12):
            coloured_picture(20 + i, 20, 20 * c + i).save(tmp_path / "pics" / name / f"{i}.png")
    extra = [
        "conditional=true",
        "dataset=image_folder",
        "dataset.image_size=16",
        "dataset.in_memory_max=0",
        "dataset.workers=0",
        "eval.at=[]",
    ]

    out = run_cli(_args(tmp_path / "pics", tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    run = tmp_path / "b"
    _kill_and_resume(_args(tmp_path / "pics", run, extra=extra), run, tmp_path, 10)
    _assert_same_run(tmp_path / "a", run)


@pytest.mark.slow
def test_sigkill_resume_identity_with_ada_restores_p(mnist_root, tmp_path):
    # p moves every 4 rounds by the real images seen over ada_kimg * 1000: a resumed run must
    # go on from the p it saved, with the sums of the interval under way
    extra = ["objective.augment.kind=ada", "objective.augment.ada_kimg=0.5"]
    out = run_cli(_args(mnist_root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    _kill_and_resume(_args(mnist_root, tmp_path / "b", extra=extra), tmp_path / "b", tmp_path, 10)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    ps = [json.loads(line).get("ada_p") for line in (tmp_path / "b" / "metrics.jsonl").open()]
    assert all(p is not None for p in ps) and max(ps) > 0
    a, b = (
        torch.load(tmp_path / r / "checkpoints" / "last.pt", weights_only=True)["objective"][
            "augment"
        ]
        for r in "ab"
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# whatever this CPU has, the run computes in bfloat16 as one with AVX-512 BF16 or AMX does
PRETEND_NATIVE_BF16 = """
import gantrain.hardware.accel as accel
accel.native_bf16 = lambda: True
"""


@pytest.mark.slow
def test_sigkill_resume_identity_in_bf16_on_the_cpu(mnist_root, tmp_path):
    extra = ["device.amp=true"]
    proc = _start(_args(mnist_root, tmp_path / "a", extra=extra), tmp_path, PRETEND_NATIVE_BF16)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert "precision=torch.bfloat16" in (tmp_path / "a" / "train.log").read_text()
    run = tmp_path / "b"
    _kill_and_resume(_args(mnist_root, run, extra=extra), run, tmp_path, 7, PRETEND_NATIVE_BF16)
    _assert_same_run(tmp_path / "a", run)


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_finishes_the_round_and_checkpoints(sig, code, mnist_root, tmp_path):
    run = tmp_path / "run"
    # no evaluation: by default a 100,000-round run would first train the feature classifier
    proc = _start(_args(mnist_root, run, rounds=100000, extra=["eval.at=[]"]), tmp_path)
    _wait_for_round(run, 3, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert f"resume={run}" in out + err and "Traceback" not in out + err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    stopped = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"]
    assert str(stopped) in summary["error"]
    out = run_cli([f"resume={run}", "trainer.rounds=" + str(stopped + 2)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads((run / "summary.json").read_text())["resumed_from"] == stopped


@pytest.mark.slow
def test_resume_refuses_a_changed_config_and_names_the_keys(uninterrupted, tmp_path):
    out = run_cli([f"resume={uninterrupted}", "model.width=16", "seed=3"], tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert "model.width: 8 -> 16" in line and "seed: 0 -> 3" in line and "resume_force=true" in line


@pytest.mark.slow
def test_resume_accepts_safe_changes_and_force(uninterrupted, tmp_path):
    uninterrupted = Path(shutil.copytree(uninterrupted, tmp_path / "copy"))
    before = (uninterrupted / "samples" / "round_000024.png").read_bytes()
    out = run_cli(
        [f"resume={uninterrupted}", "trainer.rounds=26", "trainer.sample_at=[12,24,26]"], tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert (uninterrupted / "samples" / "round_000026.png").is_file()
    assert (uninterrupted / "samples" / "round_000024.png").read_bytes() == before
    out = run_cli(
        [
            f"resume={uninterrupted}",
            "trainer.rounds=27",
            "objective.critic_steps=2",
            "resume_force=true",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr


def test_milestone_checkpoints_are_kept(uninterrupted):
    kept = sorted(p.name for p in (uninterrupted / "checkpoints").glob("round_*.pt"))
    assert kept == ["round_000012.pt", "round_000024.pt"]


@pytest.mark.slow
def test_existing_run_dir_is_not_overwritten(uninterrupted, tmp_path):
    before = (uninterrupted / "checkpoints" / "last.pt").read_bytes()
    out = run_cli(["dataset.root=x", "device=cpu", f"hydra.run.dir={uninterrupted}"], tmp_path)
    assert out.returncode != 0 and "resume=" in out.stderr and "Traceback" not in out.stderr
    assert (uninterrupted / "checkpoints" / "last.pt").read_bytes() == before


@pytest.mark.slow
def test_sigkill_resume_identity_for_the_residual_r3gan(mnist_root, tmp_path):
    # the residual nets with spectral norm's power-iteration vectors, the relativistic loss's
    # paired scores, and R1 and R2 on their lazy schedules come back exactly
    extra = [
        "model=resnet",
        "objective.loss.kind=relativistic",
        "objective.penalties.r1=1",
        "objective.penalties.r1_every=2",
        "objective.penalties.r2=1",
        "objective.penalties.r2_every=3",
    ]
    out = run_cli(_args(mnist_root, tmp_path / "a", extra=extra), tmp_path)
    assert out.returncode == 0, out.stderr
    _kill_and_resume(_args(mnist_root, tmp_path / "b", extra=extra), tmp_path / "b", tmp_path, 8)
    _assert_same_run(tmp_path / "a", tmp_path / "b")
    assert any("parametrizations" in k for k in _weights(tmp_path / "b"))  # spectral norm on
