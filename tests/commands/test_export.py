"""gantrain-export: the ONNX file through onnxruntime and the TorchScript file through
torch.jit.load give gantrain's own images for the same latents, at any batch size, with the
metadata a user needs; what cannot be exported is refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_cli, tiny_train
from test_sample_eval import call, error_line

from gantrain.cli.runs import load_run
from gantrain.cli.seeded import seeded_images
from gantrain.commands import export as export_cli
from gantrain.models.latent import fixed_statistics, latents_for_seeds

CRITIC = ["objective.critic.width=8", "objective.critic.max_width=16"]
RUNS = {  # a conditional GAN normalising by batch, and an AE sampling its fitted Gaussian
    "cdcgan": ["conditional=true", *CRITIC],
    "ae": ["model=ae", "objective=mle"],
}


@pytest.fixture(scope="module", params=sorted(RUNS))
def trained(request, mnist_root, tmp_path_factory):
    run = tmp_path_factory.mktemp(request.param)
    tiny_train([*RUNS[request.param], "trainer.rounds=2", "trainer.sample_at=[2]"], run, mnist_root)
    return run


def gantrain_images(run, seeds) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(z, labels, images in [-1, 1]) as gantrain itself draws the seeds."""
    model = fixed_statistics(load_run(str(run), None, True, {}, torch.device("cpu")).model)
    z = latents_for_seeds(seeds, model.latent_dim)
    labels = torch.tensor(seeds) % model.num_classes if model.num_classes else None
    return z, labels, model.sample_from_noise(z, labels)


def export(run, tmp_path, monkeypatch, capsys, fmt, *args):
    out = tmp_path / f"g{len(list(tmp_path.iterdir()))}.{'onnx' if fmt == 'onnx' else 'pt'}"
    code, _, err = call(
        export_cli, [f"run_dir={run}", f"format={fmt}", f"out={out}", *args], monkeypatch, capsys
    )
    assert code == 0, err
    return out


@pytest.mark.slow
def test_onnx_matches_gantrain_at_any_batch_size(trained, tmp_path, monkeypatch, capsys):
    import onnx
    import onnxruntime as ort

    path = export(trained, tmp_path, monkeypatch, capsys, "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for seeds in ([0, 1, 2, 3, 4], [11]):
        z, labels, want = gantrain_images(trained, seeds)
        feed = {"z": z.numpy()} | ({} if labels is None else {"labels": labels.numpy()})
        assert [i.name for i in session.get_inputs()] == list(feed)
        (got,) = session.run(["images"], feed)
        assert got.dtype == np.float32 and got.shape == tuple(want.shape)
        assert np.abs(got - want.numpy()).max() < 1e-4
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["latent_dim"] == str(z.shape[1]) and meta["image_size"] == "28"
    assert meta["channels"] == "1" and meta["value_range"] == "float32 [-1, 1]"
    assert meta["format"] == "onnx opset 17" and "manual_seed(seed)" in meta["seed_rule"]
    assert meta["gantrain_version"] and meta["weights"] in ("ema", "raw")
    classes = json.loads(meta["classes"])
    assert classes == [] if labels is None else classes[7] == "7 - seven" and len(classes) == 10


@pytest.mark.slow
def test_torchscript_matches_gantrain_and_carries_metadata(trained, tmp_path, monkeypatch, capsys):
    path = export(trained, tmp_path, monkeypatch, capsys, "torchscript")
    extra = {"gantrain.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    meta = json.loads(extra["gantrain.json"])
    for seeds in ([5, 6, 7], list(range(9))):
        z, labels, want = gantrain_images(trained, seeds)
        got = loaded(z) if labels is None else loaded(z, labels)
        assert (got - want).abs().max() < 1e-4
    assert meta["latent_dim"] == str(z.shape[1]) and meta["num_classes"] in ("0", "10")


@pytest.mark.slow
def test_uint8_output_is_gantrains_pixels(trained, tmp_path, monkeypatch, capsys):
    import onnxruntime as ort

    path = export(trained, tmp_path, monkeypatch, capsys, "onnx", "output=uint8")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    seeds = list(range(6))
    z, labels, _ = gantrain_images(trained, seeds)
    feed = {"z": z.numpy()} | ({} if labels is None else {"labels": labels.numpy()})
    (got,) = session.run(None, feed)
    model = fixed_statistics(load_run(str(trained), None, True, {}, torch.device("cpu")).model)
    want = seeded_images(model, seeds, labels).numpy()
    assert got.dtype == np.uint8
    # rounding of float results a last bit apart may land one level away, rarely
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert (got == want).mean() > 0.99


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["format=onnx"], "give out=PATH.onnx"),
        (["format=keras", "out=x.keras"], "format='keras'"),
        (["output=uint16", "out=x.onnx"], "output='uint16'"),
    ],
)
def test_export_mistakes_are_one_line(tmp_path, monkeypatch, capsys, args, message):
    code, _, err = call(export_cli, [f"run_dir={tmp_path}", *args], monkeypatch, capsys)
    assert code == 2 and message in error_line(err, "gantrain-export")


def test_a_failing_exporter_is_refused_in_one_line(tmp_path, monkeypatch):
    from gantrain.errors import UserError

    def broken(*_args, **_kwargs):
        raise RuntimeError("Exporting the operator 'aten::nope' to ONNX opset 17 is not supported")

    monkeypatch.setattr(export_cli, "_write_onnx", broken)
    monkeypatch.setattr(export_cli, "load_run", lambda *a: _tiny_loaded(tmp_path))
    with pytest.raises(UserError, match="cannot be exported to onnx .*aten::nope.*torchscript"):
        export_cli.export(run_dir=str(tmp_path), out=str(tmp_path / "g.onnx"))
    assert not (tmp_path / "g.onnx").exists()


def _tiny_loaded(tmp_path):
    from gantrain.cli.runs import Run
    from gantrain.models.dcgan import DCGAN

    model = DCGAN(28, 1, latent_dim=8, width=8, max_width=16).eval()
    config = {"model": {"image_size": 28, "channels": 1}}
    return Run(model, {"config": config, "round": 1}, tmp_path / "last.pt", {}, "raw")


@pytest.mark.slow
def test_export_says_what_it_wrote_once(trained, tmp_path):
    out = tmp_path / "g.onnx"
    done = run_cli([f"run_dir={trained}", f"out={out}"], tmp_path, script="gantrain-export")
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"wrote {out}: the ") and "round 2" in lines[0]
