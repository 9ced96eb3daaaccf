"""Helpers the tests share: tiny data in real formats, composing configs, running gantrain."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir

from gantrain.config import conf_dir


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's IDX format: magic (0, 0, dtype 0x08 = uint8, ndim), big-endian sizes, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def digit_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images of bright strokes on black (a ring or a bar per class), and labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.float32)
    for i, c in enumerate(labels):
        cy, cx = 14 + rng.normal(0, 1.5, 2)
        if c % 2 == 0:
            r = 6 + c / 4
            d = np.abs(np.hypot(yy - cy, xx - cx) - r)
        else:
            d = np.abs((xx - cx) * np.cos(c) + (yy - cy) * np.sin(c))
            d[np.hypot(yy - cy, xx - cx) > 9] = 9
        images[i] = np.clip(1.5 - d, 0, 1)
    return (images * 255).astype(np.uint8), labels


def compose_cfg(overrides: list[str]):
    """The composed config for a command line, as gantrain would see it."""
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def without_hydra(cfg):
    from omegaconf import OmegaConf

    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])


def names_of(cfg) -> dict:
    return dict(cfg.hydra.runtime.choices)


TINY = [
    "device=cpu",
    "trainer.batch_size=16",
    "trainer.log_every=1",
    "model.width=8",
    "model.max_width=16",
]


def tiny_train(overrides: list[str], run_dir: Path, mnist_root: Path) -> dict:
    """Train in-process with tiny nets; returns summary.json's content."""
    from hydra.core.hydra_config import HydraConfig

    from gantrain.cli import train

    cfg = compose_cfg([f"dataset.root={mnist_root}", *TINY, *overrides])
    names = names_of(cfg)
    HydraConfig.instance().set_config(cfg)  # resolvers such as ${hydra:...} stay usable
    cfg = without_hydra(cfg)
    torch.set_num_threads(1)
    return train(cfg, run_dir, names)


def run_cli(args: list[str], cwd: Path, script: str = "gantrain", timeout: int = 300):
    """Run an installed console script as a user would; returns CompletedProcess."""
    exe = Path(sys.executable).with_name(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": ""}
    env.pop("HYDRA_FULL_ERROR")
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
