"""Where training shows itself: TensorBoard, metrics.jsonl, the progress bar or plain log lines."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gantrain.errors import WriteFailed

log = logging.getLogger("gantrain")


def _quiet_tensorboard_thread(args) -> None:
    """TensorBoard writes events from a thread of its own; a failed write (a full disk) would
    print that thread's traceback, and the same error reaches the main thread at its next
    TensorBoard call anyway, where it becomes one line."""
    if issubclass(args.exc_type, OSError) and type(args.thread).__module__.startswith(
        "tensorboard"
    ):
        return
    _DEFAULT_THREAD_HOOK(args)


_DEFAULT_THREAD_HOOK = threading.excepthook


def _fmt(logs: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in logs.items())


class Monitor:
    def __init__(
        self, run_dir: Path, rounds: int, start_round: int = 0, progress: bool | None = None
    ):
        self.run_dir = run_dir
        self.rounds = rounds
        threading.excepthook = _quiet_tensorboard_thread
        # purge_step drops events a killed run logged after its last checkpoint
        self.writer = SummaryWriter(
            str(run_dir / "tb"), purge_step=start_round + 1 if start_round else None
        )
        self.metrics = open(run_dir / "metrics.jsonl", "a", encoding="utf-8")
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.bar = (
            tqdm(total=rounds, initial=start_round, unit="round", dynamic_ncols=True)
            if self.progress
            else None
        )
        self.start_round = start_round
        self.t0 = time.perf_counter()

    def scalars(self, rnd: int, logs: dict[str, float]) -> None:
        with self.tensorboard():
            for k, v in logs.items():
                self.writer.add_scalar(f"train/{k}", v, rnd)
        end = self.metrics.tell()
        try:
            self.metrics.write(json.dumps({"round": rnd, **logs}) + "\n")
            self.metrics.flush()
        except OSError as err:  # half a line must not stay: cut the file back to whole rows
            try:
                self.metrics.truncate(end)
            except OSError:
                pass
            raise WriteFailed("metrics", self.run_dir / "metrics.jsonl", err) from None
        if self.bar is not None:
            self.bar.set_postfix_str(_fmt(logs), refresh=False)
        else:
            done = rnd - self.start_round
            rate = done / max(time.perf_counter() - self.t0, 1e-9)
            eta = timedelta(seconds=round((self.rounds - rnd) / rate)) if rate > 0 else "?"
            log.info(
                "round %d/%d | %.2f rounds/s | ETA %s | %s", rnd, self.rounds, rate, eta, _fmt(logs)
            )

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def image(self, tag: str, rnd: int, grid: torch.Tensor) -> None:
        with self.tensorboard():
            self.writer.add_image(tag, grid, rnd)

    @contextmanager
    def tensorboard(self):
        """TensorBoard's writer reports a failed write (of its own thread) on a later call."""
        try:
            yield
        except OSError as err:
            raise WriteFailed("TensorBoard events", self.run_dir / "tb", err) from None

    def hparams(self, hparams: dict, metrics: dict) -> None:
        """The run's swept settings beside its final metrics, for TensorBoard's HParams view."""
        values = {
            k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in hparams.items()
        }
        self.writer.add_hparams(values, {f"final/{k}": v for k, v in metrics.items()}, run_name=".")

    def close(self) -> None:
        """Close everything; on a full disk the last flushes fail too, and the first failure
        is the one already being reported."""
        if self.bar is not None:
            self.bar.close()
        for close in (self.writer.close, self.metrics.close):
            try:
                close()
            except OSError:
                pass


class NullMonitor:
    """For processes that train without writing (data-parallel ranks other than 0)."""

    def scalars(self, rnd: int, logs: dict) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def image(self, tag: str, rnd: int, grid) -> None:
        pass

    def hparams(self, hparams: dict, metrics: dict) -> None:
        pass

    def close(self) -> None:
        pass
