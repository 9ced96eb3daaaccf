"""TensorBoard's HParams view of the README's sweep (objective=adversarial,mmd): read back
through TensorBoard's own hparams plugin, every job's session lists that job's final metrics."""

import pytest
from helpers import run_cli

TINY = [
    "device=cpu",
    "trainer.rounds=3",
    "trainer.sample_at=[3]",
    "trainer.batch_size=16",
    "model.width=8",
    "model.max_width=16",
]


def hparams_sessions(logdir) -> tuple[set[str], dict[str, dict[str, float]]]:
    """(the view's metric columns, {session: {metric: value}}) as the HParams dashboard reads."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
    tb = base_plugin.TBContext(logdir=str(logdir), multiplexer=mux, data_provider=provider)
    ctx, rc = backend_context.Context(tb), context.RequestContext()
    experiment = ctx.experiment_from_metadata(
        rc, "", True, ctx.hparams_metadata(rc, ""), ctx.hparams_from_data_provider(rc, "", 0)
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=100,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS],
    )
    groups = list_session_groups.Handler(rc, ctx, "", request).run().session_groups
    sessions = {g.name: {m.name.tag: m.value for m in g.metric_values} for g in groups}
    return {m.name.tag for m in experiment.metric_infos}, sessions


@pytest.mark.slow
def test_every_sweep_job_shows_its_own_metrics(mnist_root, tmp_path):
    out = run_cli(
        [
            "-m",
            "objective=adversarial,mmd",
            f"dataset.root={mnist_root}",
            *TINY,
            "hydra.sweep.dir=sw",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    columns, sessions = hparams_sessions(tmp_path / "sw")
    assert {"final/loss_d", "final/loss_g", "final/mmd", "final/loss"} <= columns
    assert set(sessions) == {"0/tb", "1/tb"}
    assert {"final/loss_d", "final/loss_g"} <= set(sessions["0/tb"])  # adversarial
    assert {"final/mmd", "final/loss"} <= set(sessions["1/tb"])  # MMD: blank before
    assert sessions["1/tb"]["final/mmd"] > 0
    log = (tmp_path / "sw" / "1" / "train.log").read_text()
    assert "3 rounds is too short for the default eval schedule" in log and "eval.at=[3]" in log
