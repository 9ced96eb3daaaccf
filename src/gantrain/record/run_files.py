"""Atomic writes of the run directory's files: a reader sees the old file or the new one."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gantrain.errors import WriteFailed


@contextmanager
def atomic(path: Path, what: str) -> Iterator[Path]:
    """Yields a temporary path beside path to write; renamed into place when the block ends.
    A failed write (a full disk) removes the temporary file, leaves path as it was, and raises
    WriteFailed naming what could not be written."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise WriteFailed(what, path, err) from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


# while a run's summary says "running", RUN/.reserve holds this much of the disk, so that on a
# full disk the failure can still be recorded: the reserve is deleted to make room for it
RESERVE = 64 * 1024
RESERVE_NAME = ".reserve"


def write_json(path: Path, obj: dict, what: str = "", reserve: bool = False) -> None:
    """Atomically. With reserve: while obj's status is "running" a reserve file beside path
    holds room for the next write; a write that finds the disk full deletes the reserve and
    tries again; any other status (the run has ended) releases the reserve."""
    text = json.dumps(obj, indent=2) + "\n"
    spare = path.with_name(RESERVE_NAME)
    try:
        with atomic(path, what or path.name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except WriteFailed:
        if not (reserve and spare.is_file()):
            raise
        _remove(spare)
        with atomic(path, what or path.name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    if reserve and obj.get("status") == "running":
        _hold(spare)
    elif reserve:
        _remove(spare)


def _hold(spare: Path) -> None:
    """Write the reserve (real blocks, not a sparse file) unless it is there; on a disk already
    too full for it, go on without one."""
    if spare.is_file() and spare.stat().st_size == RESERVE:
        return
    try:
        with atomic(spare, "the reserve") as tmp:
            tmp.write_bytes(b"\0" * RESERVE)
    except WriteFailed:
        pass


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _round(line: str) -> float:
    """A metrics row's round; infinite for a line that is not a whole row (dropped)."""
    try:
        return int(json.loads(line)["round"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


def prune_metrics(path: Path, last_round: int) -> None:
    """Drop rows a killed run logged after its last checkpoint, so a resume does not repeat them."""
    if not path.is_file():
        return
    keep = [
        line for line in path.read_text(encoding="utf-8").splitlines() if _round(line) <= last_round
    ]
    with atomic(path, "metrics") as tmp:
        tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")


# ---- a command refused before training: its run directory goes again ----


def _log_files(run_dir: Path) -> list[logging.FileHandler]:
    """The logging handlers (Hydra's train.log) that write into run_dir."""
    inside = str(run_dir.resolve()) + os.sep
    handlers = {
        h
        for lg in [logging.root, *logging.root.manager.loggerDict.values()]
        for h in getattr(lg, "handlers", [])
    }
    return [
        h
        for h in handlers
        if isinstance(h, logging.FileHandler) and h.baseFilename.startswith(inside)
    ]


def _is_lock(name: str) -> bool:
    return name == "lock" or name.endswith(".lock") or name.startswith(".lock")


def _only_unstarted(run_dir: Path, logs: set[str], empty_logs: bool) -> bool:
    """run_dir holds nothing but what a run holds before training starts: Hydra's .hydra/
    (only its YAML files), the log (empty, with empty_logs) and the run's lock."""
    try:
        for entry in run_dir.iterdir():
            if entry.name == ".hydra":
                if not entry.is_dir() or any(
                    not (f.is_file() and f.suffix == ".yaml") for f in entry.iterdir()
                ):
                    return False
            elif entry.name in logs:
                if empty_logs and entry.stat().st_size:
                    return False
            elif not (entry.is_file() and _is_lock(entry.name)):
                return False
    except OSError:
        return False
    return True


def is_new_run_dir(run_dir: Path) -> bool:
    """Whether run_dir held nothing when the job began but what Hydra just wrote (its .hydra/
    and an empty log): the directory is this command's own."""
    logs = {Path(h.baseFilename).name for h in _log_files(run_dir)}
    return not (run_dir / "summary.json").exists() and _only_unstarted(run_dir, logs, True)


def discard_unstarted(run_dir: Path) -> bool:
    """Remove a run directory this command made (is_new_run_dir at its start) whose training
    never began: no summary, metrics or checkpoint were written. Only the files such a start
    leaves are deleted, and only when there is nothing else; True when the directory is gone."""
    handlers = _log_files(run_dir)
    logs = {Path(h.baseFilename).name for h in handlers}
    if (run_dir / "summary.json").exists() or not _only_unstarted(run_dir, logs, False):
        return False
    for handler in handlers:  # the log file is held open until its handler closes
        handler.close()
        for lg in [logging.root, *logging.root.manager.loggerDict.values()]:
            if isinstance(lg, logging.Logger) and handler in lg.handlers:
                lg.removeHandler(handler)
    try:
        for entry in sorted(run_dir.iterdir()):
            if entry.is_dir():
                for f in entry.iterdir():
                    f.unlink()
                entry.rmdir()
            else:
                entry.unlink()
        run_dir.rmdir()
    except OSError:
        return False
    _remove_empty_parents(run_dir)
    return True


def _remove_empty_parents(run_dir: Path) -> None:
    """outputs/<date>/ (and outputs/) when the run was their only entry."""
    date, outputs = run_dir.parent, run_dir.parent.parent
    if not (re.fullmatch(r"\d{4}-\d{2}-\d{2}", date.name) and outputs.name == "outputs"):
        return
    for folder in (date, outputs):
        try:
            folder.rmdir()  # only an empty folder goes
        except OSError:
            return
