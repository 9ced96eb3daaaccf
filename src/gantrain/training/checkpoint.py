"""Atomic checkpoint writes and safe loads (weights_only: no pickled code ever runs)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from gantrain.errors import UserError

FORMAT = 1
# classes and functions that moved: a checkpoint's saved config names them by their old homes
MOVED = {
    "gantrain.trainer.Trainer": "gantrain.training.trainer.Trainer",
    "gantrain.data.torchvision_sets.load_celeba": "gantrain.data.celeba.load",
}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(payload: dict, path: Path) -> None:
    """Temp file + fsync + rename: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save({"format": FORMAT, **payload}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def load(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"no checkpoint at {path}; give a run directory with checkpoints/last.pt")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(
            f"{path} holds more than tensors and plain values ({first}); it was not loaded so "
            "that no code in it runs"
        ) from None
    except Exception as err:  # torch.load fails in many ways on foreign bytes; all mean unreadable
        raise UserError(
            f"{path} is not a readable gantrain checkpoint (truncated or foreign: {err})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a gantrain checkpoint (format {FORMAT} expected)")
    if isinstance(payload.get("config"), dict):
        payload["config"] = _current_targets(payload["config"])
    return payload


def _current_targets(node):
    """The saved config with each moved _target_ at its present home."""
    if isinstance(node, dict):
        return {
            k: MOVED.get(v, v) if k == "_target_" else _current_targets(v) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_current_targets(v) for v in node]
    return node
