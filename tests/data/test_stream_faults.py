"""Streamed data that goes missing mid-run: a vanished file is skipped and counted; a DataLoader
worker killed by the system ends in one line that names dataset.workers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
import torch
from data_files import write_image_folder

from gantrain.data.image_files import ImageFiles
from gantrain.data.stream import StreamBatches


def test_an_image_deleted_mid_run_is_skipped_and_counted(tmp_path, caplog):
    paths = write_image_folder(tmp_path / "pics", n=8, corrupt=0)
    files = ImageFiles(sorted(paths), image_size=16, channels=3)
    stream = StreamBatches(files, 8, torch.device("cpu"), seed=0, workers=0)
    stream()  # a first batch, while every file is there
    files.paths[2].unlink()  # a file removed while the run goes on
    files.paths[5].write_bytes(b"not an image any more")
    with caplog.at_level(logging.WARNING):
        batch = stream()  # the next epoch reads every index again
    assert batch.shape == (8, 3, 16, 16)
    assert files.skipped == 2
    assert "(2 skipped in this process)" in caplog.text


KILLED_WORKER = """
import os, signal, sys
import torch
from torch.utils.data import Dataset, get_worker_info
from gantrain.data.stream import StreamBatches
from gantrain.errors import UserError

class KillsItsWorker(Dataset):
    # as if the OS killed the worker for its memory, at the fifth image
    def __len__(self):
        return 64

    def __getitem__(self, i):
        if i == 5 and get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return torch.zeros(1, 4, 4, dtype=torch.uint8)

stream = StreamBatches(KillsItsWorker(), 4, torch.device("cpu"), seed=0, workers=1)
try:
    for _ in range(20):
        stream()
except UserError as err:
    print(err)
    sys.exit(3)
"""


@pytest.mark.slow
def test_a_killed_worker_names_dataset_workers():
    # in a process of its own: torch reports the death from a SIGCHLD handler, which may
    # interrupt a multiprocessing queue's lock at any moment; the training process ends right
    # after that report, a test session would go on with the lock held
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 3, done.stderr
    message = done.stdout.strip()
    assert "DataLoader worker" in message and "dataset.workers" in message
    assert "\n" not in message
