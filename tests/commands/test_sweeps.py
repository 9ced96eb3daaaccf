"""Sweeps: parallel jobs each get a complete directory, failures are recorded, reruns skip."""

import csv
import json

import pytest
from helpers import compose_cfg, run_cli
from omegaconf import OmegaConf

TINY = [
    "device=cpu",
    "trainer.rounds=3",
    "trainer.sample_at=[3]",
    "trainer.batch_size=16",
    "model.width=8",
    "model.max_width=16",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
]


@pytest.fixture(scope="module")
def sweep(mnist_root, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("sweep")
    args = [
        "-m",
        "seed=0,1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"dataset.root={mnist_root}",
        *TINY,
        "hydra.sweep.dir=sw",
    ]
    out = run_cli(args, cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return cwd, args


@pytest.mark.slow
def test_joblib_jobs_write_complete_directories(sweep):
    cwd, _ = sweep
    for job in ("0", "1"):
        d = cwd / "sw" / job
        assert json.loads((d / "summary.json").read_text())["status"] == "done"
        for path in (
            "samples/round_000003.png",
            "samples/evolution.png",
            "checkpoints/last.pt",
            "metrics.jsonl",
            ".hydra/config.yaml",
        ):
            assert (d / path).is_file(), path
        assert list((d / "tb").iterdir())


@pytest.mark.slow
def test_report_summarises_the_sweep(sweep):
    cwd, _ = sweep
    out = run_cli([str(cwd / "sw")], cwd, script="gantrain-report")
    assert out.returncode == 0, out.stderr
    assert "| job | seed | status |" in out.stdout
    rows = list(csv.DictReader(open(cwd / "sw" / "report.csv")))
    assert [(r["job"], r["seed"], r["status"]) for r in rows] == [
        ("0", "0", "done"),
        ("1", "1", "done"),
    ]
    assert float(rows[0]["rounds_per_s"]) > 0 and rows[0]["loss_d"]
    assert (cwd / "sw" / "report.md").is_file() and (cwd / "sw" / "report_seed.png").is_file()


@pytest.mark.slow
def test_rerun_skips_finished_jobs(sweep):
    cwd, args = sweep
    before = (cwd / "sw" / "0" / "checkpoints" / "last.pt").stat().st_mtime_ns
    out = run_cli(args, cwd)
    assert out.returncode == 0
    assert out.stdout.count("already finished; skipped") == 2
    assert (cwd / "sw" / "0" / "checkpoints" / "last.pt").stat().st_mtime_ns == before


@pytest.mark.slow
def test_failed_job_is_recorded_and_the_sweep_goes_on(mnist_root, tmp_path):
    out = run_cli(
        [
            "-m",
            "trainer.batch_size=16,1000",  # the second is larger than the data: found at run time
            f"dataset.root={mnist_root}",
            *[a for a in TINY if not a.startswith("trainer.batch_size")],
            "hydra.sweep.dir=sw",
        ],
        tmp_path,
    )
    assert out.returncode != 0
    assert json.loads((tmp_path / "sw" / "0" / "summary.json").read_text())["status"] == "done"
    failed = json.loads((tmp_path / "sw" / "1" / "summary.json").read_text())
    assert failed["status"] == "failed" and "trainer.batch_size=1000" in failed["error"]


@pytest.mark.slow
def test_a_bad_value_in_any_job_stops_the_sweep_before_it_starts(mnist_root, tmp_path):
    out = run_cli(
        [
            "-m",
            "trainer.batch_size=16,0",
            f"dataset.root={mnist_root}",
            "device=cpu",
            "hydra.sweep.dir=sw",
        ],
        tmp_path,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "gantrain: error: trainer.batch_size=0 must be a positive integer, e.g. 64"
    ]
    assert not (tmp_path / "sw").exists()


def test_report_refuses_a_non_sweep_dir(tmp_path):
    out = run_cli([str(tmp_path / "nope")], tmp_path, script="gantrain-report")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_slurm_and_optuna_presets_compose():
    slurm = compose_cfg(["hydra/launcher=slurm"]).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher") and slurm.gpus_per_node == 1
    optuna = compose_cfg(["hparams_search=optuna_lr"]).hydra.sweeper
    assert optuna.direction == "minimize" and "objective.optimizer.lr" in optuna.params
    assert (
        OmegaConf.select(compose_cfg(["hydra/launcher=joblib"]), "hydra.launcher.n_jobs")
        is not None
    )
