"""What a user watches: TensorBoard's tags, and the progress line's recent rate and ETA."""

from __future__ import annotations

import logging
import re

import pytest
from helpers import tiny_train

from gantrain.record.monitor import Monitor
from gantrain.record.rate import RecentRate

FAST_EVAL = [
    "eval.num_samples=24",
    "eval.kid_subsets=3",
    "eval.classifier.steps=20",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
]


def _tags(run_dir) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return acc.Tags()


@pytest.mark.slow
def test_tensorboard_separates_training_and_evaluation(mnist_root, tmp_path):
    tiny_train(
        ["trainer.rounds=4", "trainer.sample_at=[2,4]", "eval.at=[2,4]", *FAST_EVAL],
        tmp_path,
        mnist_root,
    )
    tags = _tags(tmp_path)
    scalars = set(tags["scalars"])
    assert {"train/loss_d", "train/loss_g"} <= scalars
    evaluated = {"fid", "kid", "precision", "recall", "density", "coverage", "classes_present"}
    assert {f"eval/{k}" for k in evaluated} <= scalars
    assert not {t for t in scalars if t.startswith("train/") and t[6:] in evaluated}
    assert not {"eval/num_samples", "eval/num_classes", "eval/eval_s"} & scalars  # constants
    assert {"config/text_summary", "eval/protocol/text_summary"} <= set(tags["tensors"])
    assert {"eval/class_histogram", "samples"} <= set(tags["images"])
    # both judges' numbers as curves, their weights' hashes in the protocol text
    judged = {"fid_judge2", "confidence", "confidence_judge2", "judges_agreement"}
    assert {f"eval/{k}" for k in judged} <= scalars
    text = _text(tmp_path, "eval/protocol/text_summary")
    hashes = re.findall(r"\b[0-9a-f]{12}\b", _last_row(tmp_path)["judges"])
    assert len(hashes) == 2 and all(h in text for h in hashes)


def _text(run_dir, tag: str) -> str:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"tensors": 0})
    acc.Reload()
    return acc.Tensors(tag)[0].tensor_proto.string_val[0].decode()


def _last_row(run_dir) -> dict:
    import json

    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_follows_the_recent_intervals_not_the_whole_run():
    clock = Clock()
    rate = RecentRate(0, clock)
    rnd = 0
    for _ in range(6):  # a slow first minute: 1 round/s
        clock.now += 10
        rnd += 10
        rate.update(rnd)
    for _ in range(30):  # then five minutes at 10 rounds/s
        clock.now += 10
        rnd += 100
        rate.update(rnd)
    whole_run = rnd / clock.now
    assert whole_run < 8.6 and rate.rate == pytest.approx(10, rel=0.01)
    assert rate.eta_s(1000) == pytest.approx(100, rel=0.01)


def test_progress_line_uses_the_recent_rate(tmp_path, caplog):
    clock = Clock()
    monitor = Monitor(tmp_path, rounds=10_000, progress=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="gantrain"):
        clock.now = 100.0  # a slow start: 100 rounds in 100 s
        monitor.scalars(100, {"loss": 1.0})
        for i in range(2, 20):
            clock.now += 10.0  # then 100 rounds each 10 s
            monitor.scalars(100 * i, {"loss": 1.0})
    monitor.close()
    last = caplog.records[-1].getMessage()
    # 8,100 rounds left at about 10 rounds/s; the whole run's average (6.9/s) would say 19:34
    assert "round 1900/10000" in last and " 9.8" in last and "ETA 0:13:" in last


def _zero_columns(fd=None):
    import os

    return os.terminal_size((0, 0))


def _no_ioctl(fd=None):
    raise OSError(25, "Inappropriate ioctl for device")


@pytest.mark.parametrize("reported", ["ioctl 0", "COLUMNS=0", "ioctl fails, COLUMNS=0"])
def test_a_terminal_of_no_width_gets_plain_progress_lines(reported, tmp_path, caplog, monkeypatch):
    """A terminal that says it has 0 columns: the bar would draw nothing; lines are shown."""
    import os
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    if reported == "ioctl 0":
        monkeypatch.setattr(os, "get_terminal_size", _zero_columns)
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", "0")
        size = _no_ioctl if reported == "ioctl fails, COLUMNS=0" else _zero_columns
        monkeypatch.setattr(os, "get_terminal_size", size)
    monitor = Monitor(tmp_path, rounds=100)
    with caplog.at_level(logging.INFO, logger="gantrain"):
        monitor.scalars(50, {"loss": 1.0})
    monitor.close()
    assert monitor.bar is None
    assert any("round 50/100" in r.getMessage() for r in caplog.records)


def test_a_terminal_wide_enough_gets_the_bar(tmp_path, monkeypatch):
    import os
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((120, 40)))
    monitor = Monitor(tmp_path, rounds=100)
    assert monitor.bar is not None
    monitor.close()


def test_progress_rate_leaves_evaluations_out(tmp_path, caplog):
    clock = Clock()
    monitor = Monitor(tmp_path, rounds=10_000, progress=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="gantrain"):
        for i in range(1, 20):
            clock.now += 10.0  # 100 rounds each 10 s of training
            evaluation = {}
            if i % 5 == 0:  # and an evaluation of 30 s in that interval
                clock.now += 30.0
                evaluation = {"fid": 50.0, "eval_s": 30.0}
            monitor.scalars(100 * i, {"loss": 1.0}, evaluation)
    monitor.close()
    last = caplog.records[-1].getMessage()
    assert "round 1900/10000 | 10.00 rounds/s" in last  # the summary's rate: training only
