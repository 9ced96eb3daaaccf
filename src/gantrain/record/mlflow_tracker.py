"""MLflow: a local store in RUN/mlruns (SQLite, which MLflow recommends over its file store;
no server), or the store or server tracking_uri names. The run's id is kept in
RUN/trackers.json so that a resumed run continues the same MLflow run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gantrain.errors import UserError
from gantrain.kinds import Text
from gantrain.record.tracker import Tracker, as_uint8, figure_rgb, keep, kept, require

BATCH = 100  # MLflow takes at most 100 params (1000 metrics) in one log_batch


def local_uri(run_dir: Path) -> str:
    return "sqlite:///" + str((run_dir / "mlruns" / "mlflow.db").resolve())


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}: MLflow params are flat text."""
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)[:6000]  # MLflow's limit on a param's value
    return out


class MlflowTracker(Tracker):
    """MLflow: a local SQLite store in RUN/mlruns unless tracking_uri names another store or a
    server; the experiment's name; the run's (null: RUN's last two parts, <date>/<time>)."""

    def __init__(self, run_dir: Path, start_round: int, tracking_uri: Text | None = None,
                 experiment: Text = "gantrain", run_name: Text | None = None):  # fmt: skip
        require("mlflow")
        from mlflow.exceptions import MlflowException

        uri = tracking_uri or local_uri(run_dir)
        if tracking_uri is None:
            (run_dir / "mlruns").mkdir(parents=True, exist_ok=True)
        try:
            self._start(run_dir, uri, tracking_uri is None, experiment, run_name)
        except MlflowException as err:  # a store that cannot be reached or used: one line
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(
                f"logger.mlflow.tracking_uri={tracking_uri or uri} cannot be used ({first}); "
                "give a reachable server or store, or null for RUN/mlruns"
            ) from None

    def _start(self, run_dir: Path, uri: str, local: bool, experiment: str,
               run_name: str | None) -> None:  # fmt: skip
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(uri)
        before = kept(run_dir, "mlflow")
        self.run_id = before.get("run_id") if before.get("tracking_uri") == uri else None
        if self.run_id is not None and self._exists(self.run_id):
            self.client.update_run(self.run_id, status="RUNNING")  # resumed: the same run
            return
        experiment_id = self._experiment(experiment, run_dir, local)
        name = run_name or f"{run_dir.parent.name}/{run_dir.name}"
        self.run_id = self.client.create_run(experiment_id, run_name=name).info.run_id
        keep(run_dir, "mlflow", {"run_id": self.run_id, "tracking_uri": uri})

    def _experiment(self, name: str, run_dir: Path, local: bool) -> str:
        """The experiment's id, created where missing (a sweep's other job may create it at the
        same moment: then it is found)."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        # the local store keeps its artifacts beside its database
        where = (run_dir / "mlruns" / "artifacts").resolve().as_uri() if local else None
        try:
            return self.client.create_experiment(name, artifact_location=where)
        except MlflowException:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _exists(self, run_id: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id).info.lifecycle_stage == "active"
        except MlflowException:
            return False

    def config(self, config: dict, text: str) -> None:
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in flatten(config).items()]
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i : i + BATCH])
        self.client.log_text(self.run_id, text, "config.yaml")

    def scalars(self, values: dict[str, float], rnd: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, rnd) for k, v in values.items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def text(self, tag: str, text: str, rnd: int) -> None:
        self.client.log_text(self.run_id, text, f"{tag}.txt")

    def figure(self, tag: str, figure, rnd: int) -> None:
        self.client.log_image(self.run_id, figure_rgb(figure), f"{tag}/round_{rnd:06d}.png")

    def image(self, tag: str, grid, rnd: int) -> None:
        self.client.log_image(self.run_id, as_uint8(grid), f"{tag}/round_{rnd:06d}.png")

    def hparams(self, hparams: dict, metrics: dict) -> None:
        # tags, not params: a param may not change once logged, and the config holds these keys
        for k, v in hparams.items():
            self.client.set_tag(self.run_id, f"hparam.{k}", str(v))
        self.scalars(metrics, 0)

    def close(self) -> None:
        # an exception on its way out (an interrupt, a full disk) ends the run as KILLED
        status = "FINISHED" if sys.exc_info()[0] is None else "KILLED"
        self.client.set_terminated(self.run_id, status=status)
