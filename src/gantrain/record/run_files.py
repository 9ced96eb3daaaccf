"""Atomic writes of the run directory's files: a reader sees the old file or the new one."""

from __future__ import annotations

import json
import os
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


# summary.json is padded to this size, so that on a full disk a failure can still be recorded
# in the blocks the file already holds
RESERVE = 4096


def write_json(path: Path, obj: dict, what: str = "", reserve: bool = False) -> None:
    """Atomically; with reserve, padded to RESERVE bytes (JSON allows trailing blanks) and, when
    the disk has no room for a new copy, written over the old one in place."""
    text = json.dumps(obj, indent=2) + "\n"
    if reserve:
        text = text.ljust(RESERVE)
    try:
        with atomic(path, what or path.name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except WriteFailed:
        if not (reserve and path.is_file() and path.stat().st_size == len(text.encode())):
            raise
        with open(path, "r+", encoding="utf-8") as f:  # the same blocks: no new space needed
            f.write(text)


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
