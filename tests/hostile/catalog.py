"""What every refusal of hostile input must look like, checked the same way for every reader and
every face: one error line naming the bad entry, a non-zero exit, no traceback, nothing written
outside the places the command owns, nothing contacted, and bounded time and memory.

A catalog module (tests/hostile/test_*.py) builds its hostile inputs in tmp_path, runs the real
console script through `run_refused`, and hands the outcome to `assert_refused`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# A refusal is a check, not work: far less than a training run may take.
SECONDS = 60
# Peak resident memory a refusal may reach (torch and Hydra imported: ~0.6 GB); the bombs the
# catalog builds would need several GB to be read whole.
PEAK_MB = 1500


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def files_under(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and modification time, to tell what a command wrote."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() or path.is_symlink():
            st = path.lstat()
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


def run_refused(
    args: list[str],
    cwd: Path,
    script: str = "gantrain",
    timeout: int = SECONDS,
    env: dict | None = None,
) -> Outcome:
    """Run an installed console script as a user would, measuring its wall time and its own peak
    resident memory (wait4 reports that child's, not the high-water mark of every child)."""
    exe = Path(sys.executable).with_name(script)
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.monotonic()
        child = subprocess.Popen(
            [str(exe), *args],
            cwd=cwd,
            env=full_env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        killer = threading.Timer(timeout, child.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            killer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Outcome(child.returncode, out.read(), err.read(), seconds, usage.ru_maxrss / 1024)


def assert_refused(
    out: Outcome,
    names: str,
    before: dict | None = None,
    watched: Path | None = None,
    allowed: tuple[str, ...] = (),
    seconds: float = SECONDS,
) -> str:
    """The refusal is one line holding `names`; with `before` (files_under(watched) taken before
    the command) nothing under `watched` changed but paths starting with one of `allowed`.
    Returns the error line."""
    text = out.stderr + out.stdout
    assert out.returncode != 0, text
    assert "Traceback" not in text, text
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, text
    assert names in errors[0], errors[0]
    assert out.seconds < seconds, f"took {out.seconds:.0f} s"
    assert out.peak_mb < PEAK_MB, f"peak {out.peak_mb:.0f} MB"
    if before is not None and watched is not None:
        after = files_under(watched)
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        stray = sorted(p for p in changed if not p.startswith(allowed))
        assert not stray, f"written outside what the command owns: {stray}"
    return errors[0]
