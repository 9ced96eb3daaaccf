"""Catalog: a saved config builds only what each slot may hold, and fetches, downloads and writes
nothing the user's own command line does not say. Crafted checkpoints and overrides of one real
tiny run, met by the real console scripts; a localhost server stands for every URL."""

from __future__ import annotations

import copy
import http.server
import json
import shutil
import threading

import pytest
import torch
from helpers import CRITIC, tiny_train_saved
from hostile.catalog import assert_refused, files_under, run_refused

from gantrain.training import checkpoint

pytestmark = pytest.mark.slow
LOADER = "gantrain.data.torchvision_sets.load"


@pytest.fixture(scope="module")
def trained(mnist_root, tmp_path_factory):
    """One tiny DCGAN run (2 rounds) with the overrides.yaml Hydra would have written."""
    run = tmp_path_factory.mktemp("slots") / "run"
    overrides = ["trainer.rounds=2", "trainer.sample_at=[2]", *CRITIC]
    return tiny_train_saved(overrides, run, mnist_root)


@pytest.fixture
def run(trained, tmp_path):
    copy_ = tmp_path / "run"
    shutil.copytree(trained, copy_)
    return copy_


class _Counting(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A localhost HTTP server that counts the requests it gets: every URL below points here."""
    _Counting.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Counting.requests
    httpd.shutdown()
    httpd.server_close()


def _craft(run, change) -> None:
    """last.pt with the run's real weights and a changed config, as torch.save writes it."""
    last = run / "checkpoints" / "last.pt"
    payload = checkpoint.load(last)
    config = copy.deepcopy(payload["config"])
    change(config)
    torch.save({**payload, "config": config}, last)


def _add_overrides(run, *lines) -> None:
    saved = run / ".hydra" / "overrides.yaml"
    saved.write_text(saved.read_text() + "".join(f"- {json.dumps(line)}\n" for line in lines))


def _refused(run, args, script, names, tmp_path, allowed=()):
    before = files_under(tmp_path)
    out = run_refused(args, tmp_path, script)
    return assert_refused(out, names, before, tmp_path, allowed)


@pytest.mark.promise("slots")
def test_export_refuses_a_data_loader_as_the_model(run, tmp_path):
    download = tmp_path / "downloaded"
    _craft(
        run,
        lambda c: c.update(
            model={"_target_": LOADER, "name": "mnist", "root": str(download), "download": True}
        ),
    )
    line = _refused(
        run,
        [f"run_dir={run}", f"out={tmp_path / 'g.onnx'}"],
        "gantrain-export",
        f"config.model._target_={LOADER} is not what model holds",
        tmp_path,
    )
    assert "model may hold only gantrain.models." in line and not download.exists()


@pytest.mark.promise("slots")
def test_serve_refuses_a_shard_set_nested_in_the_model(run, tmp_path, server):
    url, requests = server
    shards = {"_target_": "gantrain.data.shards.load", "root": f"{url}/set"}
    _craft(run, lambda c: c["model"].update(latent_dim=shards))
    line = _refused(
        run,
        [f"run_dir={run}", "port=1"],
        "gantrain-serve",
        "config.model.latent_dim._target_=gantrain.data.shards.load",
        tmp_path,
    )
    assert "model.latent_dim holds plain values only" in line and requests == []


@pytest.mark.promise("slots")
def test_sample_refuses_a_model_as_the_critic(run, tmp_path):
    model = {"_target_": "gantrain.models.dcgan.DCGAN", "image_size": 28, "channels": 1}
    _craft(run, lambda c: c["objective"].update(critic=model))
    line = _refused(
        run,
        [f"run_dir={run}", "num_samples=4", f"out={tmp_path / 's.npz'}"],
        "gantrain-sample",
        "config.objective.critic._target_=gantrain.models.dcgan.DCGAN",
        tmp_path,
    )
    assert "objective.critic may hold only gantrain.models.critics.CodeCritic" in line


@pytest.mark.promise("slots")
def test_export_refuses_a_saved_config_with_hydra_settings(run, tmp_path):
    _craft(run, lambda c: c.update(hydra={"run": {"dir": str(tmp_path / "elsewhere")}}))
    _refused(
        run,
        [f"run_dir={run}", f"out={tmp_path / 'g.onnx'}"],
        "gantrain-export",
        "config.hydra holds Hydra's own settings",
        tmp_path,
    )


@pytest.mark.promise("no-reach-out")
def test_eval_fetches_no_url_from_a_saved_config(run, tmp_path, server):
    url, requests = server
    remote = {
        "_target_": "gantrain.data.shards.load",
        "root": f"{url}/set",
        "image_size": 28,
        "channels": 1,
    }
    _craft(run, lambda c: c.update(dataset=remote))
    line = _refused(
        run,
        [f"run_dir={run}", "num_samples=4"],
        "gantrain-eval",
        f"config.dataset.root={url}/set is a URL",
        tmp_path,
    )
    assert "give dataset.root=... on the command line" in line and requests == []


@pytest.mark.promise("no-reach-out")
def test_eval_downloads_nothing_a_saved_config_asks_for(run, tmp_path):
    empty = tmp_path / "no-data"
    _craft(run, lambda c: c["dataset"].update(root=str(empty), download=True))
    _refused(
        run,
        [f"run_dir={run}", "num_samples=4"],
        "gantrain-eval",
        "dataset.download=false",
        tmp_path,
    )
    assert not empty.exists()


@pytest.mark.promise("no-reach-out")
@pytest.mark.parametrize(
    "line,named",
    [
        ("dataset.root={url}/mnist", "the saved override dataset.root={url}/mnist is a URL"),
        ("logger.mlflow.tracking_uri={tmp}/tracked.db", "names a tracking store"),
        ("seed=${{hydra.job.num}}", "seed refers to Hydra's own settings"),
        ("objective/critic@model=image", "objective/critic@model=image._target_="),
    ],
    ids=["url", "tracker", "hydra interpolation", "critic as the model"],
)
def test_resume_refuses_saved_overrides_that_reach_out_or_misplace(
    run, tmp_path, server, line, named
):
    url, requests = server
    extra = ["logger=mlflow"] if "mlflow" in line else []
    _add_overrides(run, *extra, line.format(url=url, tmp=tmp_path))
    saved = run / ".hydra" / "overrides.yaml"
    refusal = _refused(
        run, [f"resume={run}", "trainer.rounds=3"], "gantrain", named.format(url=url), tmp_path
    )
    assert str(saved) in refusal and requests == []
