"""Several processes (torchrun): one per GPU, or gloo processes on the CPU. Rank 0 owns the run
directory; the other ranks train and average gradients but write nothing."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta

import torch
import torch.distributed as dist

from gantrain.errors import UserError
from gantrain.kinds import Duration, duration_seconds


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


def group_keys(collective_timeout: Duration = 600):
    """device.collective_timeout: how long a process waits in a collective (the gradient
    all-reduce) for a peer before it gives up, so that a rank lost with its node ends the run
    instead of holding the allocation; longer than the longest evaluation or checkpoint write,
    which rank 0 does while the others wait."""


def init(device: torch.device, collective_timeout: int | float | str = 600) -> bool:
    """Join the process group when launched by torchrun; True on the rank that writes."""
    if env_world() > 1 and not dist.is_initialized():
        timeout = timedelta(seconds=duration_seconds(collective_timeout))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)
    return env_rank() == 0


def gather(obj) -> list:
    """Every rank's obj, in rank order (a collective: all ranks call it)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def close(together: bool = True) -> None:
    """Leave the group. After a clean finish the ranks wait for each other first: a rank that
    tears gloo down while a peer still talks to it can abort the peer's process. After a failure
    there is no waiting, since the peers may never arrive."""
    if dist.is_initialized():
        if together:
            dist.barrier()
        dist.destroy_process_group()


def collective_failed(err: BaseException) -> bool:
    """Whether err is a collective that failed under torchrun: a peer's connection closed (it
    died) or device.collective_timeout passed (it stopped answering)."""
    if env_world() <= 1 or not isinstance(err, RuntimeError):
        return False
    text = str(err)
    return isinstance(err, dist.DistError) or any(w in text for w in ("gloo", "NCCL", "c10d"))


def silent_ranks(grace_s: float = 3.0) -> list[int] | None:
    """The ranks that do not answer a roll call within grace_s, after a failed collective.
    It goes through the rendezvous store, which torchrun's agent holds, so it outlives a dead
    rank; None where the store cannot be reached (its host is gone too)."""
    try:
        store = dist.distributed_c10d._get_default_store()
        store.set_timeout(timedelta(seconds=grace_s))
        store.set(f"gantrain/alive/{env_rank()}", "1")
        keys = [f"gantrain/alive/{r}" for r in range(env_world())]
        end = time.monotonic() + grace_s
        while not all(here := [store.check([k]) for k in keys]) and time.monotonic() < end:
            time.sleep(0.05)
    except Exception:  # noqa: BLE001 (any failure of the store means: cannot tell)
        return None
    return [r for r, seen in enumerate(here) if not seen]


def peer_lost(err: BaseException, run_dir, checkpoints: str) -> UserError:
    """One line for a failed collective: which rank died, what is kept, how to go on."""
    silent = silent_ranks()
    who = f"rank {', '.join(map(str, silent))}" if silent else "another rank"
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    first = first.split("] ", 1)[-1].split(". ")[0][:160]  # gloo's words, not its source file
    local = int(os.environ.get("LOCAL_WORLD_SIZE", env_world()))
    nodes = (
        f" --nnodes={env_world() // local} (and the same rendezvous)" if local < env_world() else ""
    )
    where = run_dir if env_rank() == 0 else "RUN (rank 0's run directory)"
    return UserError(
        f"rank {env_rank()} of {env_world()}: {who} died or stopped answering ({first}); the run "
        f"ends, its checkpoints: {checkpoints}; continue with: torchrun "
        f"--nproc_per_node={local}{nodes} -m gantrain resume={where}"
    )
