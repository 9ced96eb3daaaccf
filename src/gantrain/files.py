"""Temporary files beside their final name, created like any other program's files: mode 0o666
less the user's umask (tempfile.mkstemp makes them 0o600, so a renamed cache or sample file
would be readable by its owner alone)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temp_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """(an open fd, its name) of a new file in path's folder, its name unique to this call:
    two processes may write the same file at once. The caller renames it into place."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")
