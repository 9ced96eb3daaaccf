"""Streamed data that goes missing mid-run: a vanished file is skipped and counted; a DataLoader
worker killed by the system ends in one line that names dataset.workers."""

from __future__ import annotations

import logging
import os
import signal

import pytest
import torch
from helpers import write_image_folder
from torch.utils.data import Dataset, get_worker_info

from gantrain.data.image_folder import ImageFiles
from gantrain.data.stream import StreamBatches
from gantrain.errors import UserError


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


class KillsItsWorker(Dataset):
    """As if the OS killed the worker for its memory, at the fifth image."""

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> torch.Tensor:
        if i == 5 and get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return torch.zeros(1, 4, 4, dtype=torch.uint8)


def test_a_killed_worker_names_dataset_workers():
    stream = StreamBatches(KillsItsWorker(), 4, torch.device("cpu"), seed=0, workers=1)
    with pytest.raises(UserError) as err:
        for _ in range(20):
            stream()
    message = str(err.value)
    assert "DataLoader worker" in message and "dataset.workers" in message
    assert "\n" not in message
