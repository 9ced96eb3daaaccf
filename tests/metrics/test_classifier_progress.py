"""The feature classifier's first training shows its progress: on a busy CPU it runs for minutes
before a run's first round."""

from __future__ import annotations

import logging
import re

import torch

from gantrain.metrics import classifier as clf
from gantrain.metrics.progress import Progress


def test_a_tiny_training_logs_progress_lines(caplog):
    images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(32) % 10
    with caplog.at_level(logging.INFO, logger="gantrain"):
        clf.train_classifier(
            images, labels, clf.ClassifierRecipe(steps=20, batch_size=8), torch.device("cpu")
        )
    lines = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("classifier: step")
    ]
    assert [re.match(r"classifier: step (\d+)/20,", line).group(1) for line in lines] == [
        str(s) for s in range(2, 21, 2)
    ]
    assert all(re.search(r"loss \d+\.\d{3}, \d+ s elapsed, ~\d+ s left$", line) for line in lines)


def test_progress_says_elapsed_and_left_time(caplog):
    now = [0.0]
    progress = Progress(1000, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="gantrain"):
        for step in range(1, 301):
            now[0] = step * 0.1
            progress.step(step, torch.tensor(0.25 if step > 200 else 1.0))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "classifier: step 100/1000, loss 1.000, 10 s elapsed, ~90 s left",
        "classifier: step 200/1000, loss 1.000, 20 s elapsed, ~80 s left",
        "classifier: step 300/1000, loss 0.250, 30 s elapsed, ~70 s left",  # the recent mean
    ]
