"""Fixtures: a tiny MNIST in the real IDX layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import digit_like, write_idx


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
