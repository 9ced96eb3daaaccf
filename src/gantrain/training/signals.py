"""SIGINT/SIGTERM: finish the round, checkpoint, exit 130/143. A second SIGINT exits at once.
Under submitit (the SLURM and submitit_local launchers) its preemption/timeout signal does the
same, then hands over to submitit's own handler, which requeues the job: the requeued job
continues from that checkpoint."""

from __future__ import annotations

import logging
import os
import signal
import threading

from gantrain.hardware.distributed import collective_failed

log = logging.getLogger("gantrain")


class StoppedBySignal(Exception):
    """Training stopped on a signal after writing its checkpoint."""

    def __init__(self, signum: int, rnd: int):
        super().__init__(f"stopped by {signal.Signals(signum).name} after round {rnd}")
        self.signum, self.round = signum, rnd
        self.then = None  # the handler that takes over once the checkpoint is written (submitit's)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


class StopRequests:
    """Records the first SIGINT/SIGTERM instead of dying mid-step (SLURM preemption sends SIGTERM)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}
        self.chained = _submitit_signal()

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            # the user insists: leave now; last.pt is whole because writes are atomic renames
            os._exit(128 + signum)
        self.signum = signum
        log.warning(
            "%s received: finishing this round, then writing a checkpoint "
            "(press Ctrl-C again to quit at once)",
            signal.Signals(signum).name,
        )

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for s in (*self.SIGNALS, *self.chained):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, kind, err, tb) -> None:
        # a rank whose peer died reports it and ends; torchrun's SIGTERM to the survivors, sent
        # as it sees the death, must not cut that line short
        ending = err is not None and collective_failed(err)
        if isinstance(err, StoppedBySignal) and err.signum in self.chained:
            err.then = self._old[err.signum]
        for s, old in self._old.items():
            signal.signal(s, signal.SIG_IGN if ending and s == signal.SIGTERM else old)
        self._old.clear()


def _submitit_signal() -> tuple[int, ...]:
    """submitit's preemption/timeout signal (SIGUSR2, or what SUBMITIT_PREEMPT_SIGNAL names)
    where submitit has installed its handler for it, else none."""
    sig = getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)
    handler = signal.getsignal(sig) if sig is not None else None
    if sig is None or not callable(handler):
        return ()
    return (sig,) if "submitit" in getattr(handler, "__module__", "") else ()
