"""trainer.time_limit: the durations it takes, a clean stop at the first round past the limit
(checkpoint, grid, evaluation, summary, the resume line), and a resume that ends bit-identical
to a run that never stopped. The clock is the test's: the limit passes after a chosen round."""

from __future__ import annotations

import itertools
import json
import logging

import numpy as np
import pytest
import torch
from helpers import CRITIC, compose_cfg, tiny_train, without_hydra

from gantrain.cli import sweeps
from gantrain.errors import UserError
from gantrain.kinds import duration_seconds
from gantrain.training import evaluation, keys, time_limit
from gantrain.training.resume import config_changes


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ("90s", 90),
        ("20m", 1200),
        ("2h", 7200),
        ("1h30m", 5400),
        (45, 45),
        ("1.5m", 90),
        ("0.5h", 1800),
        ("1h30m15s", 5415),
        (2.5, 2.5),
        ("45", 45),
    ],
)
def test_durations(given, seconds):
    assert duration_seconds(given) == seconds


@pytest.mark.parametrize(
    "bad", ["20x", "-5m", "0s", 0, -5, "", "h", "1h 30m", "30m1h", "5M", "1.m", True, [5]]
)
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        duration_seconds(bad)


@pytest.mark.parametrize("bad", ["20x", "-5m", "0", "true", "[5]"])
def test_the_schema_refuses_a_bad_time_limit_in_one_line(bad):
    cfg = without_hydra(compose_cfg([f"trainer.time_limit={bad}"]))
    with pytest.raises(UserError) as err:
        keys.schema().check(cfg)
    message = str(err.value)
    assert message.startswith("trainer.time_limit=") and "\n" not in message
    assert "90s, 20m, 2h, 1h30m" in message and message.endswith("or null")


@pytest.mark.parametrize("good", ["90s", "1h30m", "45", "2.5", "null"])
def test_the_schema_takes_a_good_time_limit(good):
    keys.schema().check(without_hydra(compose_cfg([f"trainer.time_limit={good}"])))


def test_a_changed_time_limit_is_not_a_config_change():
    saved = {"trainer": {"rounds": 10, "time_limit": "20m"}}
    assert config_changes(saved, {"trainer": {"rounds": 10, "time_limit": None}}) == []
    assert config_changes({"trainer": {"rounds": 10}}, saved) == []  # a run from before the key


def test_a_sweep_whose_jobs_stopped_at_their_limit_has_not_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps, "failed", [])
    for job, status in enumerate(["done", "time_limit"]):
        (tmp_path / str(job)).mkdir()
        (tmp_path / str(job) / "summary.json").write_text(json.dumps({"status": status}))
    assert not sweeps.sweep_failed(tmp_path)
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "summary.json").write_text(json.dumps({"status": "failed"}))
    assert sweeps.sweep_failed(tmp_path)


# ---- runs: the clock reads 0 when training starts and moves one second per round ----

ARGS = [
    *CRITIC,
    "trainer.rounds=12",
    "trainer.sample_at=[4,12]",
    "trainer.checkpoint_every=4",
    "trainer.log_every=4",
    "trainer.deterministic=true",
    "trainer.ema_decay=0.9",
    "eval.at=[8]",
]


@pytest.fixture()
def ticking(monkeypatch):
    """The clock the time limit reads: each read one second after the one before."""
    ticks = itertools.count()
    monkeypatch.setattr(time_limit, "clock", lambda: float(next(ticks)))


@pytest.fixture()
def evaluated(monkeypatch):
    """A stand-in for FID: a number read from the weights, after a draw from every global
    generator, as an evaluation that used them would make (the stop's extra one must not shift
    what training draws). Returns the list of calls."""
    calls = []

    def make_evaluator(settings, dataset_cfg, device, rounds, labels=False):
        def evaluate(model):
            calls.append(1)
            torch.rand(3), np.random.rand(), __import__("random").random()
            return {"fid": float(next(model.parameters()).abs().sum()), "eval_s": 0.0}

        return evaluate if rounds else None

    monkeypatch.setattr(evaluation, "make_evaluator", make_evaluator)
    return calls


@pytest.fixture()
def deterministic_restored():
    yield
    torch.use_deterministic_algorithms(False)


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _weights(run) -> dict:
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    return {
        **ckpt["model"],
        **{f"ema.{k}": v for k, v in ckpt["ema"].items()},
        **{f"critic.{k}": v for k, v in ckpt["objective"]["critic"].items()},
    }


@pytest.mark.slow
def test_a_run_stops_after_the_round_past_its_limit(
    mnist_root, tmp_path, ticking, evaluated, deterministic_restored, caplog
):
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="gantrain"):
        summary = tiny_train([*ARGS, "trainer.time_limit=5"], run, mnist_root)
    assert summary["status"] == "time_limit" and summary["rounds"] == 5
    assert summary["target_rounds"] == 12 and summary["time_limit"] == 5
    assert json.loads((run / "summary.json").read_text())["status"] == "time_limit"
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"] == 5
    grids = sorted(p.name for p in (run / "samples").glob("round_*.png"))
    assert grids == ["round_000004.png", "round_000005.png"]
    assert (run / "samples" / "evolution.png").is_file()
    # the stop's row holds the evaluation (the schedule's own is at 8, never reached)
    assert [(r["round"], "fid" in r) for r in _rows(run)] == [(4, False), (5, True)]
    assert evaluated == [1] and summary["final"]["fid"] == _rows(run)[-1]["fid"]
    assert (run / "checkpoints" / "best.pt").is_file()
    said = [r.getMessage() for r in caplog.records if r.name == "gantrain"]
    assert said[-1] == (
        f"time limit 5s reached: stopped after round 5 of 12; continue with: gantrain "
        f"resume={run} (the same limit again, or add trainer.time_limit=... for another, =null "
        "for none)"
    )


@pytest.mark.slow
def test_a_time_limited_run_resumed_to_the_end_is_bit_identical(
    mnist_root, tmp_path, ticking, evaluated, deterministic_restored
):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert tiny_train(ARGS, whole, mnist_root)["status"] == "done"
    limited = [*ARGS, "trainer.time_limit=5s"]
    assert tiny_train(limited, parts, mnist_root)["rounds"] == 5
    # each resume gets the whole limit again, counted from its own start
    again = tiny_train([*limited, f"resume={parts}"], parts, mnist_root)
    assert (again["status"], again["rounds"], again["resumed_from"]) == ("time_limit", 10, 5)
    end = tiny_train([*ARGS, "trainer.time_limit=null", f"resume={parts}"], parts, mnist_root)
    assert (end["status"], end["rounds"]) == ("done", 12)

    a, b = _weights(whole), _weights(parts)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for name in ("round_000004.png", "round_000012.png"):
        assert (whole / "samples" / name).read_bytes() == (parts / "samples" / name).read_bytes()
    # the same rows, besides one at each stop: the open log window went on in the checkpoint
    assert _rows(whole) == [r for r in _rows(parts) if r["round"] not in (5, 10)]
    assert [r["round"] for r in _rows(parts)] == [4, 5, 8, 10, 12]


RANK_1_CLOCK = """
import itertools, os
if os.environ["RANK"] == "1":  # only rank 1's clock passes the hour (after round 3)
    import gantrain.training.time_limit as time_limit
    ticks = itertools.count()
    time_limit.clock = lambda: 1200.0 * next(ticks)
from gantrain.commands.train import main
main()
"""


@pytest.mark.slow
def test_data_parallel_ranks_stop_after_the_same_round(mnist_root, tmp_path):
    # rank 0's real clock is far from the limit: it stops because rank 1's passed, in step
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "start.py").write_text(RANK_1_CLOCK)
    args = [
        f"dataset.root={mnist_root}",
        "device=cpu",
        "device.threads=1",
        "trainer.rounds=8",
        "trainer.sample_at=[8]",
        "trainer.batch_size=16",
        "model.width=8",
        "model.max_width=16",
        *CRITIC,
        "trainer.time_limit=1h",
        "hydra.run.dir=run",
    ]
    torchrun = Path(sys.executable).with_name("torchrun")
    out = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", "start.py", *args],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["status"], summary["rounds"]) == ("time_limit", 3)
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["round"] == 3
