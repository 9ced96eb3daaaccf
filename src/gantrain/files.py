"""Temporary files beside their final name, created like any other program's files: mode 0o666
less the user's umask (tempfile.mkstemp makes them 0o600, so a renamed cache or sample file
would be readable by its owner alone); and the checks every reader makes before it opens a path
built from data gantrain did not write itself."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from gantrain.errors import UserError


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


class Escapes(UserError):
    """A name read from data gantrain did not write (a manifest, an archive, a table) that leads
    outside the folder it must stay in; nothing was read or written at it."""

    def __init__(self, name: str, where: str, what: str):
        super().__init__(
            f"{what} names {name!r}, which leads outside {where}: refused, nothing was read or "
            "written there (use data from a source you trust, or pack it again)"
        )


def plain_name(name: object, where: str, what: str) -> str:
    """name, when it is a relative path that stays below the folder it is joined to by its
    words alone (no '..', no root, no drive, no NUL): what a URL or an archive member may name.
    Escapes otherwise."""
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise Escapes(str(name), where, what)
    posix = PurePosixPath(name)
    if posix.is_absolute() or ".." in posix.parts or PureWindowsPath(name).drive:
        raise Escapes(name, where, what)
    return name


def contained(base: Path | str, name: object, what: str, absolute: bool = False) -> Path:
    """base/name with every link resolved, when it stays inside base; Escapes otherwise. Called
    before the path is opened, so a hostile name can neither read nor write outside base.
    absolute: an absolute name is taken as it is, and must lie inside base too."""
    root = Path(base).resolve()
    if not (absolute and isinstance(name, str) and name and Path(name).is_absolute()):
        plain_name(name, str(root), what)
    path = (root / str(name)).resolve()
    if path == root or not path.is_relative_to(root):
        raise Escapes(str(name), str(root), what)
    return path


def is_regular(path: Path | str) -> bool:
    """Whether path (its links followed) is a regular file: opening a FIFO waits forever for a
    writer, and a device never ends."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
