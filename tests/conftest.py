"""Fixtures: a tiny MNIST in the real IDX layout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from data_files import digit_like, write_idx

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `pytest -n 2` runs two workers on two cores: each worker and every process it starts keeps
    # to one thread, or the threads of both fight over the cores and each test runs 3-6x slower
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A dataset.root holding MNIST/raw/*-ubyte with 256 train and 64 test images."""
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    for prefix, n, seed in (("train", 256, 0), ("t10k", 64, 1)):
        images, labels = digit_like(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny nets run fastest on one thread, and tests may run beside each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
