"""Every file gantrain writes gets the mode any other program's would: 0o666 less the umask,
written atomically through a temporary file or not."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import torch
from data_files import digit_like, write_idx

from gantrain.commands.sample import write_images
from gantrain.metrics import classifier as clf
from gantrain.metrics.fetch import fetch
from gantrain.record.run_files import write_json
from gantrain.training import checkpoint


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tiny_mnist(root):
    for prefix, n, seed in (("train", 32, 0), ("t10k", 16, 1)):
        images, labels = digit_like(n, seed)
        write_idx(root / "MNIST" / "raw" / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / "MNIST" / "raw" / f"{prefix}-labels-idx1-ubyte", labels)
    return {
        "_target_": "gantrain.data.torchvision_sets.load",
        "name": "mnist",
        "root": str(root),
        "download": False,
        "image_size": 28,
        "channels": 1,
    }


def test_written_files_follow_the_umask(umask, tmp_path):
    expected = 0o666 & ~umask
    _, info = clf.load_or_train(
        _tiny_mnist(tmp_path / "data"), clf.ClassifierRecipe(steps=2, batch_size=8)
    )
    checkpoint.save({"round": 1}, tmp_path / "run" / "checkpoints" / "last.pt")
    write_json(tmp_path / "run" / "summary.json", {"status": "running"}, reserve=True)
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    write_images(tmp_path / "out" / "s.npz", images, per_row=2)
    write_images(tmp_path / "out" / "s.png", images, per_row=2)
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights")
    prefix = hashlib.sha256(b"weights").hexdigest()[:8]
    fetched = fetch(source.as_uri(), tmp_path / "hub" / "w.pth", prefix)

    written = [
        Path(info["file"]),
        tmp_path / "run" / "checkpoints" / "last.pt",
        tmp_path / "run" / "summary.json",
        tmp_path / "out" / "s.npz",
        tmp_path / "out" / "s.png",
        fetched,
    ]
    assert {str(p): oct(_mode(p)) for p in written} == {str(p): oct(expected) for p in written}
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.part"))
