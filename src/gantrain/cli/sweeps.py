"""What gantrain needs to know of a sweep (Hydra multirun): each job's number and its share of
the cores, the value a search minimises, the pinned sweep directory, and whether any job failed."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from hydra.types import RunMode
from omegaconf import OmegaConf

from gantrain.config import split_args

failed: list[str] = []  # jobs of this process that failed (a sweep goes on, then exits non-zero)


def job_of(hc) -> dict | None:
    if hc.mode != RunMode.MULTIRUN:
        return None
    import os

    n_jobs = int(OmegaConf.select(hc.launcher, "n_jobs", default=1) or 1)
    if n_jobs < 1:  # joblib's -1: one job per core
        n_jobs = os.cpu_count() or 1
    hparams = dict(o.split("=", 1) for o in hc.overrides.task if "=" in o)
    return {"num": hc.job.num, "parallel": n_jobs, "hparams": hparams}


class _JobTagged(logging.Formatter):
    """A formatter that starts each line with the job's number: parallel jobs share a terminal."""

    def __init__(self, inner: logging.Formatter, tag: str):
        super().__init__()
        self.inner, self.tag = inner, tag

    def format(self, record) -> str:
        return f"{self.tag} {self.inner.format(record)}"

    def __getattr__(self, name):
        return getattr(self.inner, name)


def tag_job_lines(job: dict | None) -> None:
    """Each console line of a job that runs beside others names the job (train.log is its own)."""

    if not job or job["parallel"] <= 1:
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) or not isinstance(
            handler, logging.StreamHandler
        ):
            continue
        inner = handler.formatter or logging.Formatter()
        inner = inner.inner if isinstance(inner, _JobTagged) else inner  # a reused worker
        handler.setFormatter(_JobTagged(inner, f"[job {job['num']}]"))


def plain_off_terminal() -> None:
    """Off a terminal (a log file, a pipe, a cluster job), no colour codes (Optuna's colorlog
    honours NO_COLOR, in the jobs too) and no database plugins' set-up lines (Optuna's storage
    imports alembic, which logs each plugin it registers at INFO)."""
    import os
    import sys

    if sys.stderr.isatty():
        return
    if "FORCE_COLOR" not in os.environ:
        os.environ["NO_COLOR"] = "1"
    logging.getLogger("alembic").setLevel(logging.WARNING)


def sweep_value(summary: dict) -> float:
    """What an hyperparameter search minimises: FID where evaluated, else the loss gap."""
    final = summary.get("final", {})
    if "fid" in final:
        return float(final["fid"])
    if "loss_g" in final and "loss_d" in final:
        return abs(final["loss_g"] - final["loss_d"])
    return float(final.get("loss", float("inf")))


def pin_sweep_dir(args: list[str]) -> list[str]:
    """Pin the sweep directory so the exit code can read every job's summary afterwards."""
    if not {"-m", "--multirun"} & set(args) or any(a.startswith("hydra.sweep.dir=") for a in args):
        return args
    path = Path("outputs/multirun") / time.strftime("%Y-%m-%d") / time.strftime("%H-%M-%S")
    flags, overrides = split_args(args)
    return [*flags, *overrides, f"hydra.sweep.dir={path}"]


def pinned(args: list[str]) -> Path | None:
    """The sweep directory args pin; None for one run, or for one named by an interpolation."""
    if not {"-m", "--multirun"} & set(args):
        return None
    given = [a.split("=", 1)[1] for a in args if a.startswith("hydra.sweep.dir=")]
    return None if not given or "${" in given[-1] else Path(given[-1])


def sweep_failed(sweep: Path | None) -> bool:
    from gantrain.record.run_files import read_json

    if failed:
        return True
    if sweep is None:
        return False
    statuses = [(read_json(p) or {}).get("status") for p in sweep.glob("*/summary.json")]
    return any(s not in ("done", "time_limit") for s in statuses)  # a time limit is as asked
