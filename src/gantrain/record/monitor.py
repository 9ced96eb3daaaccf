"""Where training shows itself: metrics.jsonl, the trackers the `logger` group names
(TensorBoard by default; record/trackers/), the progress bar or plain log lines."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import torch
from tqdm import tqdm

from gantrain.errors import WriteFailed
from gantrain.record.rate import RecentRate
from gantrain.record.trackers import make_trackers

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


# evaluation values that stay the same from one evaluation to the next (sample and class counts)
# or time it (eval_s): in metrics.jsonl and once as text, not drawn as curves
EVAL_CONSTANTS = ("num_samples", "num_classes", "eval_s", "modes_samples", "judges")


MIN_BAR_COLUMNS = 20  # narrower, the bar draws nothing: plain log lines instead


def _columns() -> int:
    """The width the bar would have: the terminal's, else $COLUMNS; 0 when neither says."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    if columns <= 0:
        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
    return columns


def _fmt(logs: dict) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, int | float))


class Monitor:
    def __init__(
        self,
        run_dir: Path,
        rounds: int,
        start_round: int = 0,
        progress: bool | None = None,
        config: dict | None = None,
        clock=time.perf_counter,
    ):
        self.run_dir = run_dir
        self.rounds = rounds
        threading.excepthook = _quiet_tensorboard_thread
        loggers = config.get("logger") if config is not None else None
        with self.tensorboard():
            self.trackers = make_trackers(run_dir, loggers, start_round)
        self.metrics = open(run_dir / "metrics.jsonl", "a", encoding="utf-8")
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        if self.progress and sys.stderr.isatty() and _columns() < MIN_BAR_COLUMNS:
            self.progress = False  # a terminal too narrow for the bar (or saying 0) gets lines
        self.bar = (
            tqdm(total=rounds, initial=start_round, unit="round", dynamic_ncols=True)
            if self.progress
            else None
        )
        self.rate = RecentRate(start_round, clock)
        self.eval_s = 0.0  # evaluations so far: the rate is of training alone
        self.constants_shown = False
        if config is not None:  # a resumed run's trackers have it, but one the resume added
            with self.tensorboard():
                for tracker in self.trackers:
                    if tracker.fresh or not start_round:
                        tracker.config(config, _as_code(config))

    def scalars(self, rnd: int, logs: dict[str, float], evaluation: dict | None = None) -> None:
        """Training's logged means under train/*, an evaluation's scores under eval/*; both
        in one metrics.jsonl row."""
        evaluation = evaluation or {}
        self.eval_s += evaluation.get("eval_s", 0.0)
        with self.tensorboard():
            for tracker in self.trackers:
                tracker.scalars({f"train/{k}": v for k, v in logs.items()}, rnd)
            self._evaluation(rnd, evaluation)
        end = self.metrics.tell()
        try:
            self.metrics.write(json.dumps({"round": rnd, **logs, **evaluation}) + "\n")
            self.metrics.flush()
        except OSError as err:  # half a line must not stay: cut the file back to whole rows
            try:
                self.metrics.truncate(end)
            except OSError:
                pass
            raise WriteFailed("metrics", self.run_dir / "metrics.jsonl", err) from None
        shown = {**logs, **{k: v for k, v in evaluation.items() if k not in EVAL_CONSTANTS}}
        if self.bar is not None:
            self.bar.set_postfix_str(_fmt(shown), refresh=False)
        else:
            rate = self.rate.update(rnd, self.eval_s)
            eta = self.rate.eta_s(self.rounds - rnd)
            log.info(
                "round %d/%d | %s rounds/s | ETA %s | %s",
                rnd,
                self.rounds,
                f"{rate:.2f}" if rate else "?",
                timedelta(seconds=round(eta)) if eta is not None else "?",
                _fmt(shown),
            )

    def _evaluation(self, rnd: int, scores: dict) -> None:
        """eval/* curves; the constants once, as text; the predicted-class shares as a bar chart."""
        curves = {
            f"eval/{k}": v
            for k, v in scores.items()
            if k not in EVAL_CONSTANTS and isinstance(v, int | float)
        }
        for tracker in self.trackers:
            tracker.scalars(curves, rnd)
        if scores and not self.constants_shown:
            fixed = {k: scores[k] for k in ("num_samples", "num_classes", "judges") if k in scores}
            for tracker in self.trackers:
                tracker.text("eval/protocol", _as_code(fixed), rnd)
            self.constants_shown = True
        if scores.get("class_histogram"):
            from gantrain.record.charts import class_bars

            for tracker in self.trackers:
                tracker.figure(
                    "eval/class_histogram",
                    class_bars(scores["class_histogram"], f"round {rnd:,}"),
                    rnd,
                )

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def image(self, tag: str, rnd: int, grid: torch.Tensor) -> None:
        with self.tensorboard():
            for tracker in self.trackers:
                tracker.image(tag, grid, rnd)

    @contextmanager
    def tensorboard(self):
        """A tracker's failed write (TensorBoard's, of its own thread, on a later call)."""
        try:
            yield
        except OSError as err:
            raise WriteFailed("TensorBoard events", self.run_dir / "tb", err) from None

    def hparams(self, hparams: dict, metrics: dict) -> None:
        """The run's swept settings beside its final metrics, for TensorBoard's HParams view."""
        values = {
            k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in hparams.items()
        }
        numbers = {f"final/{k}": v for k, v in metrics.items() if isinstance(v, int | float)}
        for tracker in self.trackers:
            tracker.hparams(values, numbers)

    def close(self) -> None:
        """Close everything; on a full disk the last flushes fail too, and the first failure
        is the one already being reported."""
        if self.bar is not None:
            self.bar.close()
        for close in (*(t.close for t in self.trackers), self.metrics.close):
            try:
                close()
            except OSError:
                pass


def _as_code(values: dict) -> str:
    """TensorBoard's text entries are Markdown: indented lines show as code, keeping the YAML."""
    import yaml

    return "\n".join("    " + line for line in yaml.safe_dump(values, sort_keys=False).splitlines())


class NullMonitor:
    """For processes that train without writing (data-parallel ranks other than 0)."""

    def scalars(self, rnd: int, logs: dict, evaluation: dict | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def image(self, tag: str, rnd: int, grid) -> None:
        pass

    def hparams(self, hparams: dict, metrics: dict) -> None:
        pass

    def close(self) -> None:
        pass
