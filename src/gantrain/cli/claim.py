"""Which run directory a gantrain command line writes, claimed before Hydra writes into it.

Hydra creates the run directory, writes .hydra/ and opens train.log before gantrain's job
function runs; a second process in a directory another one trains into must be refused before
that. So one run's directory is pinned on the command line (the default, outputs/<date>/<time>,
made explicit) and claimed first. A sweep's job directories are claimed as each job starts, and
gantrain, not Hydra, writes a job's .hydra/ once the job holds its directory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from gantrain.config import split_args
from gantrain.hardware import distributed
from gantrain.record import lock

# flags with which Hydra runs no job (prints help, a config, a completion script)
NO_JOB = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
}
# flags that bring the user's own configs, which may name another hydra.run.dir
OWN_CONFIG = {"--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd"}
NEW_RUN = "wait for it to finish or choose another hydra.run.dir"
SWEEP_JOB = "wait for it to finish or choose another hydra.sweep.dir"
# carried by each sweep job's config (Hydra sets it around the job): where gantrain writes .hydra/
SUBDIR_VAR = "GANTRAIN_HYDRA_SUBDIR"
DEFERRED = ["hydra.output_subdir=null", f"+hydra.job.env_set.{SUBDIR_VAR}=.hydra"]


def _resume_fix(holder: dict | None) -> str:
    pid = (holder or {}).get("pid")
    stop = f" (kill {pid} stops it with a checkpoint)" if pid else ""
    return f"it is still training: resume it once it has stopped{stop}"


def _values(overrides: list[str]) -> dict[str, Any]:
    """key -> value of the overrides, as Hydra reads them (quotes removed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return {o.key_or_group: o.value() if not o.is_delete() else None for o in parsed}


def claim_run_dir(args: list[str]) -> list[str]:
    """Claim the directory a single run of args writes; args with it pinned as hydra.run.dir.
    Raises DirectoryInUse (gantrain.record.lock) where another live process holds it."""
    flags, overrides = split_args(args)
    if set(flags) & NO_JOB or distributed.env_rank() != 0:
        return args  # no run directory, or a scratch one
    given = _values(overrides)
    if {"-m", "--multirun"} & set(flags):
        if "hydra.output_subdir" in given:
            return args  # the user's choice: Hydra writes it (before the job's claim)
        return [*args, *DEFERRED]
    run_dir = given.get("hydra.run.dir")
    if run_dir is None and set(flags) & OWN_CONFIG:
        return args  # the user's config names the directory: claimed when the job starts
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


def claim_job_dir(run_dir: Path, sweep_job: bool, cfg) -> None:
    """At the start of the job function: a sweep job's directory, or a single run's whose
    hydra.run.dir only Hydra could resolve (a no-op where main() has claimed it)."""
    if distributed.env_rank() != 0:
        return
    try:
        lock.claim(run_dir, SWEEP_JOB if sweep_job else NEW_RUN)
    except lock.DirectoryInUse:
        _stop_logging_into(run_dir)
        raise
    subdir = os.environ.get(SUBDIR_VAR)
    if sweep_job and subdir:
        _save_hydra_files(run_dir / subdir, cfg)


def _stop_logging_into(run_dir: Path) -> None:
    """Hydra points the log at the job's train.log before the job starts; a refused job's
    lines (and the launcher's next ones) must not land in the holder's log."""
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        name = getattr(handler, "baseFilename", None)
        if name and Path(name).parent == Path(os.path.abspath(run_dir)):
            root.removeHandler(handler)
            handler.close()


def _save_hydra_files(folder: Path, cfg) -> None:
    """What Hydra writes into .hydra/: the job's config, Hydra's own, the job's overrides."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hydra_cfg = OmegaConf.create(OmegaConf.to_container(HydraConfig.instance().cfg))  # a copy
    hydra_cfg.hydra.output_subdir = folder.name
    hydra_cfg.hydra.job.env_set.pop(SUBDIR_VAR, None)
    hydra_cfg.hydra.overrides.hydra = [
        o for o in hydra_cfg.hydra.overrides.hydra if o not in DEFERRED
    ]
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / "config.yaml")
    OmegaConf.save(hydra_cfg, folder / "hydra.yaml")
    OmegaConf.save(hydra_cfg.hydra.overrides.task, folder / "overrides.yaml")
