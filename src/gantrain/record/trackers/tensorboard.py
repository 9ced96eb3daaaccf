"""TensorBoard: event files in RUN/tb (tensorboard --logdir outputs)."""

from __future__ import annotations

from pathlib import Path

from gantrain.record.trackers.base import Tracker


class TensorBoardTracker(Tracker):
    def __init__(self, run_dir: Path, start_round: int):
        from torch.utils.tensorboard import SummaryWriter

        self.fresh = not (run_dir / "tb").exists()
        # purge_step drops events a killed run logged after its last checkpoint
        self.writer = SummaryWriter(
            str(run_dir / "tb"), purge_step=start_round + 1 if start_round else None
        )

    def config(self, config: dict, text: str) -> None:
        self.writer.add_text("config", text, 0)

    def scalars(self, values: dict[str, float], rnd: int) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, rnd)

    def text(self, tag: str, text: str, rnd: int) -> None:
        self.writer.add_text(tag, text, rnd)

    def figure(self, tag: str, figure, rnd: int) -> None:
        self.writer.add_figure(tag, figure, rnd)

    def image(self, tag: str, grid, rnd: int) -> None:
        self.writer.add_image(tag, grid, rnd)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        # The session's start and end only, no experiment summary: TensorBoard shows the first
        # experiment summary it finds for a whole logdir, so a sweep's adversarial job would name
        # the metric columns and an MMD job's own metrics would stay blank. Without one, the
        # HParams view builds its columns from every job's hparams and scalars.
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        _, start, end = hparams_summaries(hparams, metrics)
        file_writer = self.writer.file_writer
        assert file_writer is not None  # open until close()
        file_writer.add_summary(start)
        file_writer.add_summary(end)
        for k, v in metrics.items():
            self.writer.add_scalar(k, v)

    def close(self) -> None:
        self.writer.close()
