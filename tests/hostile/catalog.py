"""What every refusal of hostile input must look like, checked the same way for every reader and
every face: one error line naming the bad entry, a non-zero exit, no traceback, nothing written
outside the places the command owns, nothing contacted, and bounded time and memory.

A catalog module (tests/hostile/test_*.py) builds its hostile inputs in tmp_path, runs the real
console script through `run_refused`, and hands the outcome to `assert_refused`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
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


# Linux counts a process's peak memory from its parent's at fork (exec keeps the larger), so a
# child forked by a test session that has grown past the bound would inherit that peak. A small
# Python process starts the command instead and reports the command's own peak (kilobytes).
_SPAWNER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as peak:
    peak.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_refused(
    args: list[str],
    cwd: Path,
    script: str = "gantrain",
    timeout: int = SECONDS,
    env: dict | None = None,
) -> Outcome:
    """Run an installed console script as a user would, measuring its wall time and its own peak
    resident memory; past `timeout` the command is killed (its whole process group)."""
    exe = Path(sys.executable).with_name(script)
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    with tempfile.TemporaryDirectory() as scratch:
        peak, out, err = (Path(scratch) / name for name in ("peak", "out", "err"))
        start = time.monotonic()
        with open(out, "w") as stdout, open(err, "w") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-c", _SPAWNER, str(peak), str(exe), *args],
                cwd=cwd,
                env=full_env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                returncode = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                returncode = child.wait()
        seconds = time.monotonic() - start
        peak_kb = int(peak.read_text()) if peak.exists() and peak.read_text() else 0
        return Outcome(returncode, out.read_text(), err.read_text(), seconds, peak_kb / 1024)


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
