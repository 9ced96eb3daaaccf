"""MLflow: a local store in RUN/mlruns (SQLite, which MLflow recommends over its file store;
no server), or the store or server tracking_uri names. The run's id is kept in
RUN/trackers.json so that a resumed run continues the same MLflow run."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from gantrain.errors import UserError
from gantrain.kinds import PositiveFloat, Text
from gantrain.record.trackers.base import Tracker, as_uint8, figure_rgb, keep, kept, require

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


def bound_requests(timeout_s: float) -> None:
    """A server that does not answer is given up after timeout_s, with two quick retries, not
    MLflow's default of 120 s per try and seven tries (four minutes to refuse a closed port).
    A retry setting the user made in the environment stays theirs."""
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(timeout_s)))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def cause(err: Exception, timeout_s: float) -> str:
    """Why a store could not be used, in words; MLflow's own message runs to several lines."""
    text = str(err)
    if "Connection refused" in text:
        return "connection refused: no server listens there"
    if "timed out" in text.lower() or "timeout" in text.lower():
        return f"no answer within logger.mlflow.timeout_s={timeout_s:g} s"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "the host name is not known"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return first[:300]


class MlflowTracker(Tracker):
    """MLflow: a local SQLite store in RUN/mlruns unless tracking_uri names another store or a
    server; the experiment's name; the run's (null: RUN's last two parts, <date>/<time>); the
    seconds a server has to answer a request."""

    def __init__(
        self,
        run_dir: Path,
        start_round: int,
        tracking_uri: Text | None = None,
        experiment: Text = "gantrain",
        run_name: Text | None = None,
        timeout_s: PositiveFloat = 10.0,
    ):
        require("mlflow")
        from mlflow.exceptions import MlflowException

        uri = tracking_uri or local_uri(run_dir)
        if tracking_uri is None:
            (run_dir / "mlruns").mkdir(parents=True, exist_ok=True)
        bound_requests(timeout_s)
        try:
            self._start(run_dir, uri, tracking_uri is None, experiment, run_name, start_round)
        except MlflowException as err:  # a store that cannot be reached or used: one line
            raise UserError(
                f"logger.mlflow.tracking_uri={tracking_uri or uri} cannot be used "
                f"({cause(err, timeout_s)}); give a reachable server or store, or null for "
                "RUN/mlruns"
            ) from None

    def _start(
        self,
        run_dir: Path,
        uri: str,
        local: bool,
        experiment: str,
        run_name: str | None,
        start_round: int,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(uri)
        self.logged: dict[str, int] = {}  # key -> the last round a killed run logged of it
        before = kept(run_dir, "mlflow")
        kept_id = before.get("run_id") if before.get("tracking_uri") == uri else None
        if kept_id is not None and self._exists(kept_id):
            self.run_id: str = kept_id
            self.client.update_run(self.run_id, status="RUNNING")  # resumed: the same run
            self.fresh = False
            self.logged = self._logged_after(start_round)
            return
        experiment_id = self._experiment(experiment, run_dir, local)
        name = run_name or f"{run_dir.parent.name}/{run_dir.name}"
        self.run_id = self.client.create_run(experiment_id, run_name=name).info.run_id
        keep(run_dir, "mlflow", {"run_id": self.run_id, "tracking_uri": uri})

    def _logged_after(self, start_round: int) -> dict[str, int]:
        """Each metric's last round in the run, where a killed run logged it after the
        checkpoint resumed from: MLflow cannot delete a metric's points, so the resumed run
        leaves out those rounds rather than log them twice."""
        keys = self.client.get_run(self.run_id).data.metrics
        last = {
            k: max((m.step for m in self.client.get_metric_history(self.run_id, k)), default=0)
            for k in keys
        }
        return {k: step for k, step in last.items() if step > start_round}

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
        metrics = [
            Metric(k, float(v), now, rnd) for k, v in values.items() if rnd > self.logged.get(k, -1)
        ]
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
