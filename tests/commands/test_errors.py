"""The user-error catalogue: one line naming the bad value, non-zero exit, no traceback."""

import subprocess
import sys

import pytest
from helpers import run_cli

pytestmark = pytest.mark.slow  # processes or training: run by `pytest -m slow`

CASES = {
    "unknown model": (["model=gpt"], "model=gpt"),
    "unknown objective": (["objective=nope"], "objective=nope"),
    "unknown dataset": (["dataset=imagenet"], "dataset=imagenet"),
    "unknown device": (["device=tpu"], "device=tpu"),
    "unknown option in a sweep": (["-m", "model=ae,gan"], "model=gan"),
    "zero rounds": (["trainer.rounds=0"], "trainer.rounds=0"),
    "negative rounds": (["trainer.rounds=-5"], "trainer.rounds=-5"),
    "zero batch": (["trainer.batch_size=0"], "trainer.batch_size=0"),
    "negative batch": (["trainer.batch_size=-1"], "trainer.batch_size=-1"),
    "non-integer milestone": (["trainer.sample_at=[1,x]"], "trainer.sample_at"),
    "fractional milestone": (["trainer.sample_at=[1,2.5]"], "2.5"),
    "milestones not a list": (["trainer.sample_at=5"], "trainer.sample_at=5"),
    "batch larger than data": (["trainer.batch_size=100000"], "trainer.batch_size=100000"),
    "bad generator loss": (["objective.loss.generator=wasserstein"], "objective.loss.generator"),
    "dcgan has no likelihood": (
        ["model=dcgan", "objective=mle"],
        "objective=adversarial or objective=mmd",
    ),
    "unbuildable image size": (["dataset.image_size=30"], "dataset.image_size=30"),
    "cuda absent": (["device=cuda"], "device=cuda"),
    "mps absent": (["device=mps"], "device=mps"),
    "resume without a checkpoint": (["resume=/nonexistent/run"], "resume=/nonexistent/run"),
    "gradient penalty with BatchNorm": (
        ["objective.penalties.gradient=10"],
        "objective.penalties.gradient=10",
    ),
    "unknown nan policy": (["trainer.nan_policy=ignore"], "trainer.nan_policy"),
    "ema decay out of range": (["trainer.ema_decay=1.5"], "trainer.ema_decay=1.5"),
    "zero threads": (["device.threads=0"], "device.threads=0"),
    "bad eval rounds": (["eval.at=[0]"], "eval.at"),
    "image folder without images": (["dataset=image_folder"], "dataset.root"),
    "limit above the dataset": (["dataset.limit=1000"], "dataset.limit=1000 exceeds the 256"),
}


class _NeedsHydra(Exception):
    pass


def _refused_here(args: list[str], cwd, monkeypatch, capsys) -> subprocess.CompletedProcess | None:
    """gantrain's main() in this process, for a mistake refused before Hydra starts (which skips
    an interpreter's start-up); None where the command line got as far as Hydra."""
    from gantrain.commands import train

    def needs_hydra():
        raise _NeedsHydra

    with monkeypatch.context() as patched:
        patched.setattr(train, "_hydra_train", needs_hydra)
        patched.chdir(cwd)
        patched.setattr(sys, "argv", ["gantrain", *args])
        code = 0
        try:
            train.main()
        except _NeedsHydra:
            capsys.readouterr()
            return None
        except SystemExit as stop:
            code = stop.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_is_one_clear_line(case, mnist_root, tmp_path, monkeypatch, capsys):
    args, needle = CASES[case]
    base = [f"dataset.root={mnist_root}", "trainer.rounds=2", "trainer.sample_at=[1]"]
    if any(a.startswith("device=") for a in args):
        base.append("trainer.rounds=2")
    else:
        base.append("device=cpu")
    out = _refused_here(base + args, tmp_path, monkeypatch, capsys)
    if out is None:  # refused once Hydra runs: in a process of its own, as a user meets it
        out = run_cli(base + args, tmp_path, timeout=120)
    if case in ("cuda absent", "mps absent"):
        import torch

        from gantrain.hardware.device import _mps_available

        if torch.cuda.is_available() if case == "cuda absent" else _mps_available():
            pytest.skip("the device is present")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout
    errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, out.stderr
    assert needle in errors[0]
    assert not list(tmp_path.rglob("last.pt"))


# the schema's refusals, end to end: before Hydra writes anything, exit 2, one line
BEFORE_ANYTHING_RUNS = {
    "lr not a number": (
        ["objective.optimizer.lr=fast"],
        "objective.optimizer.lr='fast' must be a positive number, e.g. 0.0006",
    ),
    "negative lr": (["objective.optimizer.lr=-1"], "objective.optimizer.lr=-1 must be a positive"),
    "zero latent size": (["model.latent_dim=0"], "model.latent_dim=0 must be a positive integer"),
    "zero width": (["model.width=0"], "model.width=0 must be a positive integer"),
    "no bandwidths": (
        ["objective=mmd", "objective.bandwidths=[]"],
        "objective.bandwidths=[] must be a non-empty list of positive numbers",
    ),
    "zero eval samples": (["eval.num_samples=0"], "eval.num_samples=0 must be a positive integer"),
    "betas out of range": (
        ["objective.optimizer.betas=[2,3]"],
        "objective.optimizer.betas=[2, 3] must be two numbers in [0, 1)",
    ),
    "negative KL weight": (
        ["model=vae", "objective=mle", "objective.reconstruction.beta=-1"],
        "objective.reconstruction.beta=-1 must be a number >= 0",
    ),
    "negative critic width": (
        ["objective.critic.width=-3"],
        "objective.critic.width=-3 must be a positive integer",
    ),
    "misspelt key": (
        ["trainer.roundz=3"],
        "trainer.roundz is not a key; did you mean trainer.rounds",
    ),
    "a key nothing reads": (["+trainer.roundz=3"], "trainer.roundz is not a key gantrain reads"),
    "sweep and --cfg": (
        ["-m", "seed=0,1", "--cfg", "job"],
        "--multirun and --cfg cannot be combined",
    ),
    "unknown flag": (["--colour"], "unrecognized arguments: --colour"),
    "augment without a critic": (
        ["objective=mmd", "objective.augment.kind=ada"],
        "objective.augment.kind=ada augments the images an image critic sees, and objective=mmd "
        "has no critic",
    ),
    "augment with a critic on codes": (
        ["-m", "model=dcgan,ae", "objective=adversarial", "objective.augment.kind=diffaug"],
        "objective.augment.kind=diffaug augments the images an image critic sees, and model=ae "
        "objective=adversarial has a critic on codes",
    ),
    "zero limit": (["dataset.limit=0"], "dataset.limit=0 must be a positive number of images"),
    "policy strength above 1": (
        ["objective.augment.policy.cutout=2"],
        "objective.augment.policy.cutout=2 must be a strength from 0 (off) to 1",
    ),
    "bad value in one sweep job": (["-m", "seed=0,x"], "seed='x' must be an integer"),
}


# one of them as the installed console script in a process of its own; the others meet the same
# main() in this process (they end before Hydra starts), which skips a start-up per case
IN_A_PROCESS = "misspelt key"


@pytest.mark.parametrize("case", list(BEFORE_ANYTHING_RUNS))
def test_schema_refusals_come_before_anything_is_written(
    case, mnist_root, tmp_path, monkeypatch, capsys
):
    args, expected = BEFORE_ANYTHING_RUNS[case]
    args = [f"dataset.root={mnist_root}", "device=cpu", *args]
    if case == IN_A_PROCESS:
        out = run_cli(args, tmp_path, timeout=120)
    else:
        out = _refused_here(args, tmp_path, monkeypatch, capsys)
        assert out is not None, "refused only once Hydra ran"
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gantrain: error: " + expected), out.stderr
    assert list(tmp_path.iterdir()) == []  # no outputs/ folder, not even Hydra's files


def test_mnist_missing_offline_says_where_and_how(tmp_path):
    out = run_cli(
        [f"dataset.root={tmp_path / 'nowhere'}", "dataset.download=false", "device=cpu"],
        tmp_path,
        timeout=120,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in line
    assert "train-images-idx3-ubyte" in line and "dataset.root=" in line


def test_default_first_run_offline_names_the_files(tmp_path):
    # dataset.root=data as shipped, not there yet, download on, no network reached in time
    env = {"https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    out = run_cli(["device=cpu"], tmp_path, timeout=120, env=env)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "data" / "MNIST" / "raw") in line and "download failed" in line
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in line
    assert not (tmp_path / "data").exists()  # the refused run leaves no empty folders


def test_refusal_comes_before_data_is_loaded(tmp_path):
    # the data root does not exist: the pair is refused before anyone looks for it
    out = run_cli(
        [
            f"dataset.root={tmp_path / 'nowhere'}",
            "model=dcgan",
            "objective=mle",
            "dataset.download=false",
            "device=cpu",
        ],
        tmp_path,
        timeout=120,
    )
    assert out.returncode != 0
    assert "model=dcgan objective=mle" in out.stderr and "MNIST" not in out.stderr
    assert "implicit generator" in out.stderr


def test_empty_image_folder(tmp_path):
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "photos" / "notes.txt").write_text("no pictures here")
    out = run_cli(
        ["dataset=image_folder", f"dataset.root={tmp_path / 'photos'}", "device=cpu"],
        tmp_path,
        timeout=120,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "photos") in line
