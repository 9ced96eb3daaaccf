"""The `logger` group: csv, MLflow and W&B beside (or instead of) TensorBoard, several at once,
the same scalars, pictures and config in each, and one line when a tracker is not installed."""

from __future__ import annotations

import csv
import sys

import pytest
import torch
from helpers import cli_args, one_error_line, patched_gantrain, run_cli, tiny_train

from gantrain.cli.command_line import check_command_line
from gantrain.commands.train import schema
from gantrain.errors import UserError
from gantrain.record import trackers
from gantrain.record.monitor import Monitor
from gantrain.record.trackers import base as tracker

SHORT = [
    "trainer.rounds=4",
    "trainer.sample_at=[2,4]",
    "eval.at=[]",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
]


def _scalars(run_dir) -> dict[tuple[int, str], float]:
    with open(run_dir / "csv" / "scalars.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return {(int(r["round"]), r["tag"]): float(r["value"]) for r in rows}


def test_csv_tracker_keeps_scalars_pictures_config_and_hparams(tmp_path):
    config = {"seed": 3, "logger": {"csv": {}}}
    monitor = Monitor(tmp_path, rounds=10, progress=False, config=config)
    monitor.scalars(1, {"loss": 0.5}, {"fid": 12.0, "num_samples": 24})
    monitor.image("samples", 1, torch.rand(3, 10, 12))
    monitor.hparams({"seed": 3}, {"loss": 0.5})
    monitor.close()
    assert _scalars(tmp_path) == {(1, "train/loss"): 0.5, (1, "eval/fid"): 12.0}
    assert (tmp_path / "csv" / "images" / "samples" / "round_000001.png").is_file()
    assert "seed: 3" in (tmp_path / "csv" / "config.yaml").read_text()
    assert "eval/num_samples" not in str(_scalars(tmp_path))  # constants are text, as in TB
    assert "seed,3" in (tmp_path / "csv" / "hparams.csv").read_text()
    assert not (tmp_path / "tb").exists()  # csv alone: no TensorBoard files


def test_a_resumed_csv_drops_rows_after_the_checkpoint(tmp_path):
    first = Monitor(tmp_path, rounds=10, progress=False, config={"logger": {"csv": {}}})
    for rnd in (1, 2, 3):
        first.scalars(rnd, {"loss": float(rnd)})
    first.close()
    again = Monitor(
        tmp_path, rounds=10, start_round=2, progress=False, config={"logger": {"csv": {}}}
    )
    again.scalars(3, {"loss": 30.0})
    again.close()
    assert _scalars(tmp_path) == {
        (1, "train/loss"): 1.0,
        (2, "train/loss"): 2.0,
        (3, "train/loss"): 30.0,
    }


def test_no_logger_node_means_tensorboard(tmp_path):
    monitor = Monitor(tmp_path, rounds=10, progress=False, config={"seed": 0})
    assert [type(t).__name__ for t in monitor.trackers] == ["TensorBoardTracker"]
    monitor.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("name", ["mlflow", "wandb"])
def test_a_missing_package_is_one_line_naming_the_extra(name, monkeypatch):
    monkeypatch.setitem(sys.modules, name, None)  # import mlflow raises ImportError
    with pytest.raises(UserError) as err:
        trackers.check_available({"tensorboard": {}, name: {}})
    assert f'pip install "gantrain[{name}]"' in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_several_loggers_on_the_command_line(mnist_root):
    check_command_line(["logger=[tensorboard,mlflow]", "logger.mlflow.experiment=mine"], schema())
    with pytest.raises(UserError, match="logger=nope is not known; choose one of: csv, mlflow"):
        check_command_line(["logger=[csv,nope]"], schema())
    with pytest.raises(UserError, match="logger.wandb.mode='sometimes' must be one of"):
        check_command_line(["logger=wandb", "logger.wandb.mode=sometimes"], schema())
    with pytest.raises(
        UserError, match="logger.mlflow.experiment is a key of logger=mlflow, which is not chosen"
    ):
        check_command_line(["logger.mlflow.experiment=x"], schema())


def test_wandb_goes_online_only_when_logged_in_or_told(tmp_path, monkeypatch):
    from gantrain.record.trackers.wandb import resolve_mode

    (tmp_path / "netrc").write_text("")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_mode("auto") == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password k\n")
    assert resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode("auto") is None  # wandb reads WANDB_MODE itself
    assert resolve_mode("offline") == "offline"


@pytest.mark.slow
def test_the_train_command_names_the_extra_when_mlflow_is_missing(mnist_root, tmp_path):
    run = tmp_path / "run"
    args = [f"dataset.root={mnist_root}", "device=cpu", "logger=mlflow", f"hydra.run.dir={run}"]
    out = patched_gantrain("import sys; sys.modules['mlflow'] = None", args, tmp_path)
    assert out.returncode == 2
    line = one_error_line(out.stderr)
    assert line == (
        'gantrain: error: logger=mlflow needs the mlflow package: pip install "gantrain[mlflow]" '
        "(or choose another logger, e.g. logger=csv)"
    )
    assert not (run / "checkpoints").exists()


@pytest.mark.slow
def test_mlflow_and_csv_together_and_a_resume_continues_the_mlflow_run(mnist_root, tmp_path):
    import mlflow

    tiny_train([*SHORT, "logger=[csv,mlflow]"], tmp_path, mnist_root)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["gantrain"])
    assert len(runs) == 1 and runs["status"][0] == "FINISHED"
    first_id = runs["run_id"][0]
    assert runs["params.trainer.rounds"][0] == "4" and runs["params.seed"][0] == "0"
    # the same scalars as csv: the last value of each tag
    last = {tag: v for (rnd, tag), v in sorted(_scalars(tmp_path).items())}
    assert runs["metrics.train/loss_d"][0] == pytest.approx(last["train/loss_d"])
    artifacts = tmp_path / "mlruns" / "artifacts"
    assert list(artifacts.rglob("samples/round_000004.png"))
    assert list(artifacts.rglob("config.yaml"))
    assert not (tmp_path / "tb").exists()

    tiny_train(
        [*SHORT, "logger=[csv,mlflow]", "trainer.rounds=6", f"resume={tmp_path}"],
        tmp_path,
        mnist_root,
    )
    runs = mlflow.search_runs(experiment_names=["gantrain"])
    assert list(runs["run_id"]) == [first_id]  # the same run, continued
    history = mlflow.MlflowClient().get_metric_history(first_id, "train/loss_d")
    assert sorted({m.step for m in history}) == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_wandb_writes_an_offline_run_in_the_run_directory(mnist_root, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    tiny_train([*SHORT, "logger=[tensorboard,wandb]"], tmp_path, mnist_root)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("run-*.wandb"))
    assert list(runs[0].rglob("media/images/samples_*.png"))
    assert tracker.kept(tmp_path, "wandb")["run_id"] in runs[0].name
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))  # and TensorBoard beside it


@pytest.mark.slow
def test_every_tracker_gets_the_evaluation_and_a_sweeps_hparams(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = {"seed": 1, "logger": {"csv": {}, "mlflow": {}, "wandb": {}}}
    monitor = Monitor(tmp_path, rounds=10, progress=False, config=config)
    scores = {"fid": 9.5, "num_samples": 24, "class_histogram": [0.5, 0.5]}
    monitor.scalars(2, {"loss": 0.25}, scores)
    monitor.hparams({"objective.optimizer.lr": 2e-4}, {"loss": 0.25, "fid": 9.5})
    monitor.close()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    run = mlflow.search_runs(experiment_names=["gantrain"]).iloc[0]
    assert run["metrics.eval/fid"] == 9.5 and run["metrics.final/fid"] == 9.5
    assert run["tags.hparam.objective.optimizer.lr"] == "0.0002"
    assert run["params.seed"] == "1"
    artifacts = tmp_path / "mlruns" / "artifacts"
    assert list(artifacts.rglob("eval/class_histogram/round_000002.png"))
    assert list(artifacts.rglob("eval/protocol.txt"))
    assert "objective.optimizer.lr,0.0002" in (tmp_path / "csv" / "hparams.csv").read_text()
    assert _scalars(tmp_path)[(2, "eval/fid")] == 9.5
    assert (tmp_path / "csv" / "images" / "eval" / "class_histogram" / "round_000002.png").is_file()
    assert list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))


@pytest.mark.slow
def test_an_unusable_mlflow_store_is_one_line(tmp_path):
    from gantrain.record.trackers.mlflow import MlflowTracker

    with pytest.raises(UserError, match=r"^logger.mlflow.tracking_uri=nope://x cannot be used"):
        MlflowTracker(tmp_path, 0, tracking_uri="nope://x")


@pytest.mark.slow
def test_several_loggers_from_the_real_command_line(mnist_root, tmp_path):
    run = tmp_path / "run"
    args = cli_args(mnist_root, run, ["trainer.rounds=4", "eval.at=[]", "logger=[tensorboard,csv]"])
    out = run_cli(args, tmp_path)
    assert out.returncode == 0, out.stderr
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert (4, "train/loss_d") in _scalars(run)
    assert (run / "csv" / "images" / "samples" / "round_000004.png").is_file()


@pytest.mark.promise("trackers")
@pytest.mark.slow
def test_wandb_leaves_out_the_rounds_a_killed_run_logged_after_its_checkpoint(
    tmp_path, monkeypatch
):
    from gantrain.record.trackers.wandb import WandbTracker

    monkeypatch.setenv("WANDB_SILENT", "true")
    first = WandbTracker(tmp_path, 0, mode="offline")
    for rnd in (50, 100, 150):  # the checkpoint at 100; 150 was logged, then the run was killed
        first.scalars({"train/loss": float(rnd)}, rnd)
    first.run.finish(exit_code=1)
    resumed = WandbTracker(tmp_path, 100, mode="offline")
    assert not resumed.fresh and resumed.logged_before == 150
    sent = []  # what reaches W&B's run.log, passed on to it
    real_log = resumed.run.log
    monkeypatch.setattr(
        resumed.run, "log", lambda values, step: sent.append(step) or real_log(values, step=step)
    )
    resumed.scalars({"train/loss": -1.0}, 150)  # the same round again: already in W&B
    resumed.image("samples", torch.zeros(3, 8, 8), 150)
    resumed.scalars({"train/loss": 200.0}, 200)
    resumed.image("samples", torch.zeros(3, 8, 8), 200)
    assert sent == [200, 200]
    assert tracker.kept(tmp_path, "wandb")["step"] == 200
    resumed.close()
