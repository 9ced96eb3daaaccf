"""Who holds a claim: the process a lock file names (host, pid, start time), and whether it
still runs; a pid the kernel has given to a newer process counts as dead."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path


def me() -> dict:
    """This process as a lock file names it."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        "started": start_ticks(os.getpid()),
    }


def alive(found: dict | None) -> bool:
    """Whether the process a lock file names still runs; one on another host counts as alive
    (it cannot be checked from here); an unreadable file as a claim being written."""
    if found is None:
        return True
    if found.get("host") != socket.gethostname():
        return True
    pid = int(found.get("pid", 0))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    started = found.get("started")
    return started is None or started == start_ticks(pid)  # a reused pid is another process


def start_ticks(pid: int) -> int | None:
    """When pid started, in clock ticks since boot (Linux); tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])
