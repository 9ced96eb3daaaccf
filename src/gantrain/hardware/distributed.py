"""Several processes (torchrun): one per GPU, or gloo processes on the CPU. Rank 0 owns the run
directory; the other ranks train and average gradients but write nothing."""

from __future__ import annotations

import os
import tempfile

import torch
import torch.distributed as dist


def env_rank() -> int:
    return int(os.environ.get("RANK", "0"))


def env_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def rank_overrides(overrides: list[str]) -> list[str]:
    """Ranks other than 0 log to a scratch directory so that there is one run directory."""
    if env_world() <= 1 or env_rank() == 0:
        return overrides
    scratch = tempfile.mkdtemp(prefix=f"gantrain-rank{env_rank()}-")
    kept = [o for o in overrides if not o.startswith(("hydra.run.dir=", "hydra.output_subdir="))]
    return [*kept, f"hydra.run.dir={scratch}", "hydra.output_subdir=null"]


def init(device: torch.device) -> bool:
    """Join the process group when launched by torchrun; True on the rank that writes."""
    if env_world() > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return env_rank() == 0


def close(together: bool = True) -> None:
    """Leave the group. After a clean finish the ranks wait for each other first: a rank that
    tears gloo down while a peer still talks to it can abort the peer's process. After a failure
    there is no waiting, since the peers may never arrive."""
    if dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()
