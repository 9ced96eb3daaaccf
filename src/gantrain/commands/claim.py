"""Which run directory a gantrain command line writes, claimed before Hydra writes into it.

Hydra creates the run directory, writes .hydra/ and opens train.log before gantrain's job
function runs; a second process in a directory another one trains into must be refused before
that. So one run's directory is pinned on the command line (the default, outputs/<date>/<time>,
made explicit) and claimed first; a sweep's job directories are claimed as each job starts.
"""

from __future__ import annotations

import time
from pathlib import Path

from gantrain.config import split_args
from gantrain.hardware import distributed
from gantrain.record import lock

# flags with which Hydra runs no job (prints help, a config, a completion script)
NO_JOB = {"--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i",
          "--shell-completion", "-sc"}  # fmt: skip
NEW_RUN = "wait for it to finish or choose another hydra.run.dir"
SWEEP_JOB = "wait for it to finish or choose another hydra.sweep.dir"


def _resume_fix(holder: dict | None) -> str:
    pid = (holder or {}).get("pid")
    stop = f" (kill {pid} stops it with a checkpoint)" if pid else ""
    return f"it is still training: resume it once it has stopped{stop}"


def _values(overrides: list[str]) -> dict[str, str | None]:
    """key -> value of the overrides, as Hydra reads them (quotes removed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return {o.key_or_group: o.value() if not o.is_delete() else None for o in parsed}


def claim_run_dir(args: list[str]) -> list[str]:
    """Claim the directory a single run of args writes; args with it pinned as hydra.run.dir.
    Raises DirectoryInUse (gantrain.record.lock) where another live process holds it."""
    flags, overrides = split_args(args)
    if set(flags) & (NO_JOB | {"-m", "--multirun"}) or distributed.env_rank() != 0:
        return args  # no run directory, a sweep's (claimed per job), or a scratch one
    given = _values(overrides)
    run_dir = given.get("hydra.run.dir")
    if run_dir is None:
        stamp = Path("outputs") / time.strftime("%Y-%m-%d") / time.strftime("%H-%M-%S")
        path = lock.claim_new(stamp)
        return [*flags, *overrides, f"hydra.run.dir={path}"]
    if "${" in str(run_dir):
        return args  # resolved by Hydra: claimed when the job starts
    path = Path(str(run_dir))
    resuming = given.get("resume") not in (None, "null", "")
    try:
        lock.claim(path, NEW_RUN)
    except lock.DirectoryInUse as err:
        if not resuming:
            raise
        raise lock.DirectoryInUse(path, err.holder, _resume_fix(err.holder)) from None
    return args


def claim_job_dir(run_dir: Path, sweep_job: bool) -> None:
    """At the start of the job function: a sweep job's directory, or a single run's whose
    hydra.run.dir only Hydra could resolve (a no-op where main() has claimed it)."""
    if distributed.env_rank() == 0:
        lock.claim(run_dir, SWEEP_JOB if sweep_job else NEW_RUN)
