"""How a run ended, in summary.json's status and in one line: done, stopped by its time limit,
diverged, or failed with a mistake the user can act on (a full disk, a dead data worker)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gantrain.errors import UserError, WriteFailed
from gantrain.record.run_files import read_json, write_json

log = logging.getLogger("gantrain")


def last_line(summary: dict, run_dir: Path) -> None:
    """How the run ended: diverged, stopped (time limit), or done, with its rate."""
    from gantrain.training.nan_policy import diverged_line
    from gantrain.training.time_limit import stopped_line

    done = f"{summary['rounds']} rounds at {summary.get('rounds_per_s') or 0.0:.2f} rounds/s "
    done += f"of training (evaluations apart: {summary.get('eval_s') or 0.0:.1f} s); "
    done += f"outputs in {run_dir}"
    diverged = diverged_line(summary, done)
    if diverged:
        log.warning(diverged)
    elif stopped_line(summary, run_dir):
        log.info("%s", stopped_line(summary, run_dir))
    else:
        log.info("done: %s", done)


def status_of(err: UserError) -> str:
    """summary.json's status for a run that ended in err: a NaN is a divergence, not a fault."""
    from gantrain.training.nan_policy import Diverged

    return "diverged" if isinstance(err, Diverged) else "failed"


def user_error(err: Exception, run_dir: Path) -> UserError | None:
    """The one-line form of a mistake or fault the user can act on; None for a bug."""
    from gantrain.data.stream import worker_death, worker_died

    if isinstance(err, WriteFailed):
        return _after_write_failure(err, run_dir)
    if isinstance(err, UserError):
        return err
    if isinstance(err, RuntimeError) and worker_died(err):  # may surface mid-step
        return worker_death(err)
    return None


def _after_write_failure(err: WriteFailed, run_dir: Path) -> UserError:
    """A full disk: what was kept, and how to go on once there is room."""
    from gantrain.training.checkpoint import describe_intact

    kept = describe_intact(run_dir / "checkpoints")
    if kept == "none":
        return UserError(f"{err}; no checkpoint was written yet: free some space and start again")
    return UserError(
        f"{err}; intact checkpoints: {kept}; free some space, then continue with: "
        f"gantrain resume={run_dir}"
    )


def record(run_dir: Path, status: str, error: str) -> None:
    """summary.json says how the run ended; a full disk leaves the one-line report alone."""
    try:
        write_json(run_dir / "summary.json", {"status": status, "error": error}, reserve=True)
    except (OSError, UserError):
        pass  # the one-line report is what matters


def summary_of(t, start: int, train_s: float) -> dict:
    """summary.json of a run that trained (t: its Trainer): how it ended, how far and how fast."""
    step_s = train_s - t.eval_s  # rounds/s counts training, not evaluation
    device = t.device
    diverged, stopped = t.state.diverged, t.stopped_at
    status = "diverged" if diverged else "time_limit" if stopped else "done"
    reached = stopped or t.rounds
    return {
        "status": status,
        **(
            {
                "diverged": True,
                "diverged_round": diverged["round"],
                "diverged_term": diverged["term"],
                "diverged_value": diverged["value"],
            }
            if diverged
            else {}
        ),
        **({"rollbacks": t.guard.rollbacks} if t.guard.rollbacks else {}),
        "rounds": reached,
        **({"target_rounds": t.rounds, "time_limit": t.time_limit} if stopped else {}),
        "resumed_from": start,
        "wall_s": round(train_s, 3),
        "rounds_per_s": round((reached - start) / step_s, 3) if step_s > 0 else None,
        "eval_s": round(t.eval_s, 3),
        "device": str(device),
        **(
            {"peak_gpu_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)}
            if device.type == "cuda"
            else {}
        ),
        "final": {**t.last, **t.last_eval},
    }


def already_done(run_dir: Path, start: int, rounds: int) -> dict:
    """The summary of a resumed run that is already at its last round: nothing to train."""
    log.info("%s is already at round %d of %d; nothing to train", run_dir, start, rounds)
    # an interrupted run's summary holds no round count: the checkpoint's is the truth
    before = read_json(run_dir / "summary.json") or {}
    if before.get("status") == "time_limit":  # stopped where the run now ends
        before["status"] = "done"
    return {"status": "done", **before, "rounds": start}
