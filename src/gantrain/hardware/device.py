"""Pick the torch device from `device.type`: an explicit request fails if absent, auto falls back."""

from __future__ import annotations

import logging
import os

import torch

from gantrain.errors import UserError
from gantrain.kinds import DeviceKind, PositiveInt

log = logging.getLogger(__name__)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def set_threads(threads: PositiveInt | None = None, parallel_jobs: int = 1) -> None:
    """torch's CPU threads: as asked, or the cores shared out between parallel sweep jobs
    (two 2-thread jobs on 2 cores run several times slower than one after the other)."""
    if threads is None and parallel_jobs == 1 and os.environ.get("OMP_NUM_THREADS"):
        return  # the environment already chose (torch reads OMP_NUM_THREADS at start)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(1, parallel_jobs))
    torch.set_num_threads(threads)


def resolve_device(type: DeviceKind = "auto", job_num: int | None = None) -> torch.device:  # noqa: A002 (the device.type key)
    """job_num: a sweep job's number; on k GPUs, job n uses GPU n mod k."""
    kind = type
    if kind == "auto":
        if torch.cuda.is_available():
            kind = "cuda"
        elif _mps_available():
            kind = "mps"
        else:
            kind = "cpu"
        log.info("device=auto picked %s", kind)
    elif kind == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "device=cuda was asked for but torch sees no CUDA GPU; use device=cpu or device=auto"
        )
    elif kind == "mps" and not _mps_available():
        raise UserError(
            "device=mps was asked for but this torch has no MPS backend; use device=cpu or device=auto"
        )
    if kind == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per process
    if kind == "cuda" and job_num is not None and torch.cuda.device_count() > 1:
        return torch.device("cuda", job_num % torch.cuda.device_count())
    return torch.device(kind)
