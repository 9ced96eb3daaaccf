"""Atomic checkpoint writes and safe loads (weights_only: no pickled code ever runs)."""

from __future__ import annotations

import errno
import io
import os
import pickle
import re
import warnings
from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.record.run_files import atomic
from gantrain.upgrade import FORMAT, upgrade_payload

# torch's refusal of a pickled global names it ("... GLOBAL posix.system whose module ...")
_GLOBAL = re.compile(r"GLOBAL ([\w.]+?)\.?(?:\s|$)")
# the other refusals of pickled objects torch's safe unpickler makes
_OBJECT = ("reduce for unrecognized function", "Can only create new object", "Can only build")


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
        with warnings.catch_warnings():  # torch warns of foreign pickle protocols on stderr
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        if err.errno == errno.EINVAL:  # torch's zip reader on a file cut short mid-archive
            raise UserError(_unreadable(path, err)) from None
        raise UserError(f"cannot read {path}: {(err.strerror or str(err)).lower()}") from None
    except Exception as err:  # torch.load fails in many ways on foreign bytes
        raise UserError(_unreadable(path, err)) from None
    upgraded = upgrade_payload(payload) if isinstance(payload, dict) else None
    if upgraded is None:
        raise UserError(f"{path} is not a gantrain checkpoint (format 1 to {FORMAT} expected)")
    return upgraded


def _unreadable(path: Path, err: Exception) -> str:
    """Why torch refused the file, in gantrain's words: torch's own text advises loading with
    weights_only off, the one thing never to do with a file of unknown origin, so none of it
    is kept but the name of a refused global."""
    text = str(err)
    if isinstance(err, pickle.UnpicklingError):
        named = _GLOBAL.search(text)
        if named:
            return (
                f"{path} holds pickled code/objects (GLOBAL {named.group(1)[:100]}); refused so "
                "that no code runs"
            )
        if any(words in text for words in _OBJECT):
            return f"{path} holds pickled code/objects; refused so that no code runs"
    return (
        f"{path} is not a readable gantrain checkpoint (truncated or foreign file): give another, "
        "e.g. checkpoint=RUN/checkpoints/round_*.pt"
    )


def intact(folder: Path, skip: tuple[str, ...] = ()) -> list[tuple[Path, int]]:
    """The checkpoints in folder that load, newest first: last.pt, then round_*.pt by round."""
    found = []
    names = ["last.pt", *sorted((p.name for p in folder.glob("round_*.pt")), reverse=True)]
    for name in names:
        if name in skip or not (folder / name).is_file():
            continue
        try:
            found.append((folder / name, int(load(folder / name)["round"])))
        except (UserError, KeyError, TypeError, ValueError):  # unreadable, or no round in it
            continue
    return found


def describe_intact(folder: Path, skip: tuple[str, ...] = ()) -> str:
    """'round_000030.pt (round 30), round_000020.pt (round 20)', or 'none'."""
    return ", ".join(f"{p.name} (round {r})" for p, r in intact(folder, skip)) or "none"
