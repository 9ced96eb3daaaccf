"""Atomic checkpoint writes and safe loads (weights_only: no pickled code ever runs)."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.record.run_files import atomic

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
    buffer = io.BytesIO()  # serialised first: a failing disk then fails a plain write, not torch's
    torch.save({"format": FORMAT, **payload}, buffer)
    with atomic(path, "the checkpoint") as tmp, open(tmp, "wb") as f:
        f.write(buffer.getbuffer())
        f.flush()
        os.fsync(f.fileno())
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


def intact(folder: Path, skip: tuple[str, ...] = ()) -> list[tuple[Path, int]]:
    """The checkpoints in folder that load, newest first: last.pt, then round_*.pt by round."""
    found = []
    names = ["last.pt", *sorted((p.name for p in folder.glob("round_*.pt")), reverse=True)]
    for name in names:
        if name in skip or not (folder / name).is_file():
            continue
        try:
            found.append((folder / name, int(load(folder / name)["round"])))
        except UserError:
            continue
    return found


def describe_intact(folder: Path, skip: tuple[str, ...] = ()) -> str:
    """'round_000030.pt (round 30), round_000020.pt (round 20)', or 'none'."""
    return ", ".join(f"{p.name} (round {r})" for p, r in intact(folder, skip)) or "none"
