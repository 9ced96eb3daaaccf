"""The run's lock: one writer per run directory.

A process claims RUN/.gantrain.lock before it writes anything into RUN and holds the claim for
its whole life. The claim is an flock on that file, so the kernel drops it when the process
dies, however it dies (SIGKILL included): a lock file left behind by a killed run is stale and
the next claim takes it over. Where the file system has no working flock (some network file
systems), the claim is the file itself, created exclusively and naming host and pid; a file
whose pid is dead on this host is stale, one from another host cannot be checked and is
refused with that host's name.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from gantrain.errors import UserError, WriteFailed
from gantrain.record.holder import alive, me

LOCK_NAME = ".gantrain.lock"
# flock's answers on file systems that do not support it
NO_FLOCK = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}
_flock = fcntl.flock  # one name for the tests to replace


class DirectoryInUse(UserError):
    """Another live process writes this run directory; nothing of it is touched."""

    def __init__(self, run_dir: Path, holder: dict | None, fix: str):  # run_dir: or a file
        self.run_dir, self.holder = run_dir, holder
        super().__init__(f"{run_dir} is in use by {describe(holder)}; {fix}")


def describe(holder: dict | None) -> str:
    if not holder:
        return "another gantrain process"
    pid, host, since = holder.get("pid"), holder.get("host"), holder.get("since")
    return f"gantrain pid {pid} on host {host} since {since}"


@dataclass
class _Claim:
    lock_file: Path
    fd: int | None  # the flocked descriptor; None for an exclusive-create claim
    made: list[Path] = field(default_factory=list)  # folders this claim created, outermost first


class _Taken(Exception):
    def __init__(self, holder: dict | None, hint: str = ""):
        self.holder, self.hint = holder, hint


_held: dict[Path, _Claim] = {}


def claim(run_dir: Path, fix: str = "wait for it to finish or choose another hydra.run.dir"):
    """Claim run_dir for this process (creating it if missing); a no-op where it already holds
    it. Raises DirectoryInUse naming the holder, with fix as the advice."""
    key = Path(os.path.abspath(run_dir))
    _claim(run_dir, key, _make_dirs(key), key / LOCK_NAME, fix)


def claim_file(path: Path, fix: str) -> None:
    """Claim one output file (an export, a sample file) the way a run directory is claimed: the
    lock is .NAME.lock beside it, so two commands writing one file cannot interleave."""
    key = Path(os.path.abspath(path))
    _claim(path, key, _make_dirs(key.parent), key.with_name(f".{key.name}.lock"), fix)


def _claim(shown: Path, key: Path, made: list[Path], lock_file: Path, fix: str) -> None:
    if key in _held:
        _remove_empty(made)
        return
    try:
        fd = _take(lock_file)
    except _Taken as taken:
        _remove_empty(made)
        raise DirectoryInUse(shown, taken.holder, fix + taken.hint) from None
    except OSError as err:
        _remove_empty(made)
        raise WriteFailed("the lock", lock_file, err) from None
    _held[key] = _Claim(lock_file, fd, made)


def claim_new(base: Path) -> Path:
    """Claim a directory that did not exist: base, else base_2, base_3, ... (two runs started
    in the same second each get their own)."""
    for n in range(1, 1000):
        path = base if n == 1 else base.with_name(f"{base.name}_{n}")
        key = Path(os.path.abspath(path))
        made = _make_dirs(key.parent)
        try:
            key.mkdir()
        except FileExistsError:
            _remove_empty(made)
            continue
        except OSError as err:
            _remove_empty(made)
            raise WriteFailed("the run directory", path, err) from None
        try:
            claim(path)
        except BaseException:
            _remove_empty([*made, key])
            raise
        _held[key].made = [*made, key]
        return path
    raise UserError(f"{base}: a thousand runs started in this second; choose a hydra.run.dir")


def holds(run_dir: Path) -> bool:
    return Path(os.path.abspath(run_dir)) in _held


def holder(run_dir: Path) -> dict | None:
    """What the lock file of run_dir says: pid, host, since; None where there is none."""
    return _read(Path(run_dir) / LOCK_NAME)


def release(run_dir: Path) -> None:
    """Give up the claim: the lock file goes, and so do the folders the claim created, if empty
    (a start refused before training leaves the place as it found it)."""
    held = _held.pop(Path(os.path.abspath(run_dir)), None)
    if held is None:
        return
    try:
        if _still_ours(held):
            held.lock_file.unlink()
    except OSError:
        pass  # a lock file that stays is stale once this process is gone
    if held.fd is not None:
        os.close(held.fd)  # after the unlink: no one can lock the old file meanwhile
    _remove_empty(held.made)


@atexit.register
def release_all() -> None:
    for run_dir in list(_held):
        release(run_dir)


def _forget_in_child() -> None:
    """A forked child (a DataLoader worker) closes its copies of the locks without unlocking:
    the lock is the parent's, and must die with the parent, not outlive it in a child."""
    for held in _held.values():
        if held.fd is not None:
            os.close(held.fd)
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _make_dirs(path: Path) -> list[Path]:
    """mkdir -p that returns the folders it created, outermost first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    made = []
    try:
        for folder in reversed(missing):
            folder.mkdir(exist_ok=True)
            made.append(folder)
    except OSError as err:
        _remove_empty(made)
        raise WriteFailed("the run directory", missing[0], err) from None
    return made


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or gone): what is inside is not the lock's to remove


def _take(path: Path) -> int | None:
    """flock path; the descriptor that holds it, or None for an exclusive-create claim."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _Taken(_read_soon(path)) from None
        except OSError as err:
            os.close(fd)
            if err.errno not in NO_FLOCK:
                raise
            _take_exclusive(path)
            return None
        # a holder that just finished removed the file after this open: lock the new one
        try:
            if _same_file(os.stat(path), os.fstat(fd)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    record = json.dumps(me()).encode() + b"\n"
    os.pwrite(fd, record, 0)
    # cut what a longer stale record left; never to 0 bytes, which would make ext4 flush the
    # file to disk at close (its safeguard for files rewritten through truncation)
    os.ftruncate(fd, len(record))
    return fd


def _take_exclusive(path: Path) -> None:
    """The fallback: the file's existence is the claim; a dead holder's file is taken over."""
    for _ in range(10):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            found = _read_soon(path)
            if alive(found) and not (found is None and _age_s(path) > 10):
                elsewhere = found and found.get("host") != socket.gethostname()
                hint = f"; if that run is over, delete {path}" if elsewhere else ""
                raise _Taken(found, hint) from None
            path.unlink(missing_ok=True)  # stale: its process is gone (or it died writing)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me()) + "\n")
        return
    raise _Taken(_read(path))


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _still_ours(held: _Claim) -> bool:
    if held.fd is not None:
        try:
            return _same_file(os.stat(held.lock_file), os.fstat(held.fd))
        except OSError:
            return False
    found = _read(held.lock_file) or {}
    return found.get("pid") == os.getpid() and found.get("host") == socket.gethostname()


def _read(path: Path) -> dict | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and "pid" in found else None


def _read_soon(path: Path, wait_s: float = 1.0) -> dict | None:
    """The holder's record; a holder that has just taken the lock may not have written it."""
    deadline = time.monotonic() + wait_s
    while True:
        found = _read(path)
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.01)
