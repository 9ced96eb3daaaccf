"""Trackers across a kill and a resume: MLflow holds each (key, round) once, a tracker the resume
adds is given the run's config, and files a tracker reads back (trackers.json, csv/scalars.csv)
that gantrain did not write are one line."""

from __future__ import annotations

import socket
import time

import pytest
from helpers import cli_args, patched_gantrain, run_cli

from gantrain.errors import UserError
from gantrain.record.monitor import Monitor

CONFIG = {"seed": 5, "trainer": {"rounds": 6}, "logger": {"mlflow": {}}}


def _mlflow_run(run_dir):
    from mlflow import MlflowClient

    from gantrain.record.trackers.base import kept
    from gantrain.record.trackers.mlflow import local_uri

    client = MlflowClient(local_uri(run_dir))
    return client, client.get_run(kept(run_dir, "mlflow")["run_id"])


@pytest.mark.promise("trackers")
@pytest.mark.slow
def test_a_resumed_mlflow_run_holds_each_round_once(tmp_path):
    killed = Monitor(tmp_path, rounds=6, progress=False, config=CONFIG)
    for rnd in range(1, 6):  # checkpointed at 3, killed after logging 5: close() never runs
        killed.scalars(rnd, {"loss": float(rnd)}, {"fid": 10.0 + rnd} if rnd == 4 else {})
    resumed = Monitor(tmp_path, rounds=6, start_round=3, progress=False, config=CONFIG)
    for rnd in range(4, 7):
        resumed.scalars(rnd, {"loss": float(rnd)}, {"fid": 10.0 + rnd} if rnd == 4 else {})
    resumed.close()
    client, run = _mlflow_run(tmp_path)
    loss = [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")]
    assert sorted(loss) == [1, 2, 3, 4, 5, 6]
    fid = [m.step for m in client.get_metric_history(run.info.run_id, "eval/fid")]
    assert fid == [4]


@pytest.mark.promise("trackers")
@pytest.mark.slow
def test_a_resume_that_adds_mlflow_gives_it_the_run_s_params(tmp_path):
    first = Monitor(tmp_path, rounds=6, progress=False, config={**CONFIG, "logger": {"csv": {}}})
    first.scalars(1, {"loss": 1.0})
    first.close()
    resumed = Monitor(tmp_path, rounds=6, start_round=1, progress=False, config=CONFIG)
    resumed.close()
    _, run = _mlflow_run(tmp_path)
    assert run.data.params["seed"] == "5" and run.data.params["trainer.rounds"] == "6"


@pytest.mark.parametrize(
    "text", ["[1, 2]", '{"mlflow": "abc"}', "{half", '{"mlflow": {"run_id": 3}}']
)
def test_a_malformed_trackers_json_is_one_line(tmp_path, text):
    (tmp_path / "trackers.json").write_text(text)
    with pytest.raises(UserError, match="trackers.json is not a record of the trackers' runs"):
        Monitor(tmp_path, rounds=6, start_round=2, progress=False, config=CONFIG)
    assert (tmp_path / "trackers.json").read_text() == text


@pytest.mark.parametrize("row", ["three,train/loss,1.0", "\x00\x00,x"])
def test_a_malformed_scalars_csv_is_one_line(tmp_path, row):
    (tmp_path / "csv").mkdir()
    text = f"round,tag,value\n1,train/loss,0.5\n{row}\n"
    (tmp_path / "csv" / "scalars.csv").write_text(text)
    with pytest.raises(UserError, match="scalars.csv is not the csv logger's"):
        Monitor(tmp_path, rounds=6, start_round=1, progress=False, config={"logger": {"csv": {}}})
    assert (tmp_path / "csv" / "scalars.csv").read_text() == text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the socket is: nothing listens there


@pytest.mark.slow
def test_a_closed_port_is_refused_in_seconds_naming_the_cause(tmp_path):
    from gantrain.record.trackers.mlflow import MlflowTracker

    start = time.monotonic()
    with pytest.raises(UserError, match="connection refused"):
        MlflowTracker(tmp_path, 0, tracking_uri=f"http://127.0.0.1:{_closed_port()}", timeout_s=2)
    assert time.monotonic() - start < 30


# the training process kills itself (SIGKILL: nothing closes) once round 5 is logged
KILL_AFTER_5 = """
import os, signal
from gantrain.record import monitor
real = monitor.Monitor.scalars
def scalars(self, rnd, *args, **kwargs):
    real(self, rnd, *args, **kwargs)
    if rnd == 5:
        os.kill(os.getpid(), signal.SIGKILL)
monitor.Monitor.scalars = scalars
"""


@pytest.mark.promise("trackers")
@pytest.mark.slow
def test_a_run_killed_and_resumed_holds_each_round_once_in_mlflow(mnist_root, tmp_path):
    run = tmp_path / "run"  # checkpoints every 2 rounds: killed after 5, resumed from 4
    args = cli_args(mnist_root, run, ["trainer.rounds=6", "eval.at=[]", "logger=[csv,mlflow]"])
    killed = patched_gantrain(KILL_AFTER_5, args, tmp_path)
    assert killed.returncode == -9, killed.stderr
    resumed = run_cli([f"resume={run}", "trainer.rounds=6"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    client, found = _mlflow_run(run)
    for key in ("train/loss_d", "train/loss_g"):
        steps = [m.step for m in client.get_metric_history(found.info.run_id, key)]
        assert sorted(steps) == [1, 2, 3, 4, 5, 6], (key, steps)
