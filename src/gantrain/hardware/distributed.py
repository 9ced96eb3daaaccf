"""Several processes (torchrun): one per GPU, or gloo processes on the CPU. Rank 0 owns the run
directory and the console; the other ranks train and average gradients, print only warnings
and errors, and write nothing.

trainer.batch_size is the batch of one optimisation step whatever the number of processes:
each process takes its share of one global draw, in micro-batches of at most
trainer.batch_per_process images whose gradients add up before the step (accumulation)."""

from __future__ import annotations

import logging
import os
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


def from_launcher() -> None:
    """A job that submitit started as one of several tasks (hydra/launcher=slurm_gpus: one
    task per GPU) joins a process group as torchrun's processes do: its rank, the number of
    tasks and the first node's address become torch's environment variables."""
    tasks = os.environ.get("SUBMITIT_LOCAL_NTASKS") or os.environ.get("SLURM_NTASKS") or "1"
    if "RANK" in os.environ or "SUBMITIT_EXECUTOR" not in os.environ or int(tasks) <= 1:
        return
    from submitit.helpers import TorchDistributedEnvironment

    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def quiet_rank() -> None:
    """On ranks other than 0 started by a launcher (whose log set-up Hydra has done already):
    warnings and errors to the console only, each naming its rank."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.FileHandler):  # rank 0's train.log is rank 0's
            root.removeHandler(handler)
            handler.close()
        else:
            handler.setFormatter(logging.Formatter(f"[rank {env_rank()}] %(message)s"))
    root.setLevel(logging.WARNING)


def shares(total: int, world: int, per_process: int | None) -> tuple[int, int]:
    """(images per micro-batch on each process, micro-batches per step) for a step of `total`
    images over `world` processes, with at most per_process images at once (None: no limit)."""
    if total % world:
        fit = -(-total // world) * world
        raise UserError(
            f"trainer.batch_size={total} does not split over {world} processes: use a multiple "
            f"of {world} (e.g. trainer.batch_size={fit})"
        )
    share = total // world
    if per_process is None or per_process >= share:
        return share, 1
    passes = -(-share // per_process)
    while share % passes:  # equal micro-batches, so each image weighs the same
        passes += 1
    return share // passes, passes


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
