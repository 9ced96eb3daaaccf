"""Shared by the benchmark scripts: peak resident memory of a process tree, machine info,
timing records. Imported as `common` (the scripts run as `python benchmarks/NAME.py`, which puts
this folder on sys.path). No torch import here, so the scripts can set threads first."""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path


def children_map() -> dict[int, list[int]]:
    """{parent pid: [child pids]} from /proc/*/stat (this kernel has no .../children files)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # exited while we looked
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])  # the name in (...) may hold spaces
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree(pid: int) -> list[int]:
    """pid and all its descendants (DataLoader workers, a subprocess's own children)."""
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def vm_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie (no VmRSS line)


class PeakRSS:
    """Background thread: every `interval` s, the sum of VmRSS over the tree rooted at pid;
    keeps the peak. Shared pages (torch's libraries in forked workers) count once per process,
    as `ps`/`top` would show them.

        with PeakRSS(os.getpid()) as rss: ...
        rss.peak_mb
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05):
        self.pid = pid or os.getpid()
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = sum(vm_rss_kb(p) for p in tree(self.pid))
        self.peak_kb = max(self.peak_kb, total)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_kb / 1024, 1)


def set_thread_env(threads: int | None) -> None:
    """Before torch is imported: OMP/MKL read their thread counts at start-up."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)


def timing_record(rounds: int, warmup: int, seconds: float, **extra) -> dict:
    timed = rounds - warmup
    return {
        "rounds": rounds,
        "warmup_rounds": warmup,
        "timed_rounds": timed,
        "seconds": round(seconds, 4),
        "rounds_per_s": round(timed / seconds, 4) if seconds > 0 else None,
        "ms_per_round": round(1000 * seconds / timed, 3) if timed > 0 else None,
        **extra,
    }


def write_json(path: str | Path, obj: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(threads: int | None) -> dict:
    import torch

    from gantrain.hardware.cpu_features import native_bf16

    info = {
        "cpu": cpu_model(),
        "cpu_native_bf16": native_bf16(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "load_avg_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
