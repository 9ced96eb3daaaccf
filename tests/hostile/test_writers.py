"""The catalog's writers: a second command writing an out= another one holds (pack, export,
sample), progress, tracker and scalars files gantrain did not write, a tracker server that does
not listen, and an unbounded walk. Each is refused as catalog.py says a refusal must look.

The first writer is this test process holding the lock, so the second one's refusal does not
depend on how two processes happen to interleave."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from helpers import cli_args, run_cli
from hostile.catalog import assert_refused, files_under, run_refused
from PIL import Image

from gantrain.record import lock

pytestmark = pytest.mark.slow
IN_USE = "is in use by gantrain pid"


def _pictures(root: Path, n: int = 6) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (12 + i, 14, 3), dtype=np.uint8)).save(
            root / f"{i}.png"
        )


@pytest.fixture
def held():
    """Claims paths for this process as a first writer would; released afterwards."""
    claimed = []

    def hold(path: Path, as_file: bool = False) -> None:
        (lock.claim_file if as_file else lock.claim)(path, "wait")
        claimed.append(path)

    yield hold
    for path in claimed:
        lock.release(path)


@pytest.mark.promise("one-writer")
def test_a_second_pack_into_an_out_in_use_is_refused(tmp_path, held):
    _pictures(tmp_path / "pics")
    held(tmp_path / "out")
    before = files_under(tmp_path)
    out = run_refused(["src=pics", "out=out", "image_size=16"], tmp_path, "gantrain-pack")
    line = assert_refused(out, IN_USE, before, tmp_path)
    assert "give another out= folder" in line


@pytest.mark.promise("one-writer")
@pytest.mark.parametrize("name", ["gen.onnx", "gen.pt"])
def test_a_second_export_into_a_file_in_use_is_refused(tmp_path, held, name):
    (tmp_path / name).write_bytes(b"the first export's bytes")
    held(tmp_path / name, as_file=True)
    before = files_under(tmp_path)
    fmt = "onnx" if name.endswith(".onnx") else "torchscript"
    out = run_refused(
        [f"run_dir={tmp_path}", f"out={name}", f"format={fmt}"], tmp_path, "gantrain-export"
    )
    assert_refused(out, IN_USE, before, tmp_path)


@pytest.mark.promise("one-writer")
@pytest.mark.parametrize("name", ["grid.png", "samples.npz", "pngs"])
def test_a_second_sample_into_an_out_in_use_is_refused(tmp_path, held, name):
    held(tmp_path / name, as_file="." in name)
    before = files_under(tmp_path)
    out = run_refused([f"run_dir={tmp_path}", f"out={name}"], tmp_path, "gantrain-sample")
    assert_refused(out, IN_USE, before, tmp_path)


@pytest.mark.promise("malformed")
@pytest.mark.parametrize(
    "record",
    [
        "[]",
        "{half",
        '{"settings": {}, "shards": [{"name": "../victim.tar", "count": 1, "sha256": "", '
        '"next": 1, "class_counts": {}}], "skipped": [], "class_counts": {}}',
        '{"settings": {}, "shards": [{"name": "/etc/passwd", "count": 1, "sha256": "", '
        '"next": 1, "class_counts": {}}], "skipped": [], "class_counts": {}}',
    ],
)
def test_a_foreign_progress_record_is_refused_unread(tmp_path, record):
    _pictures(tmp_path / "pics")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "pack-progress.json").write_text(record)
    (tmp_path / "victim.tar").write_bytes(b"the user's own file")
    before = files_under(tmp_path)
    out = run_refused(["src=pics", "out=out", "image_size=16"], tmp_path, "gantrain-pack")
    assert_refused(
        out, "pack-progress.json is not a gantrain-pack progress record", before, tmp_path
    )


@pytest.mark.promise("one-writer")
def test_a_second_projection_into_an_out_in_use_is_refused(tmp_path, held):
    Image.new("L", (28, 28)).save(tmp_path / "x.png")
    held(tmp_path / "proj")
    before = files_under(tmp_path)
    out = run_refused(
        ["image=x.png", "out=proj", f"run_dir={tmp_path}"], tmp_path, "gantrain-project"
    )
    assert_refused(out, IN_USE, before, tmp_path)


@pytest.mark.promise("malformed")
def test_pack_of_a_missing_source_says_it_does_not_exist(tmp_path):
    before = files_under(tmp_path)
    out = run_refused(["src=/no/such/photos", "out=out"], tmp_path, "gantrain-pack")
    assert_refused(out, "src=/no/such/photos does not exist", before, tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.promise("bounded")
def test_an_unbounded_walk_is_refused(tmp_path):
    before = files_under(tmp_path)
    out = run_refused(
        ["walk_steps=400000", "image=x.png", f"run_dir={tmp_path}"], tmp_path, "gantrain-project"
    )
    assert_refused(out, "walk_steps=400000 must be an integer from 1 to 64", before, tmp_path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def trained(mnist_root, tmp_path_factory) -> Path:
    """A finished 4-round run with the csv logger and TensorBoard, to resume in copies."""
    run = tmp_path_factory.mktemp("trained") / "run"
    args = cli_args(mnist_root, run, ["trainer.rounds=4", "eval.at=[]", "logger=[tensorboard,csv]"])
    done = run_cli(args, run.parent)
    assert done.returncode == 0, done.stderr
    return run


def _resume(trained: Path, tmp_path: Path, broken: str, text: str, extra=()):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / broken).write_text(text)
    before = files_under(tmp_path)
    out = run_refused([f"resume={run}", "trainer.rounds=6", *extra], tmp_path)
    return run, out, before


@pytest.mark.promise("malformed")
@pytest.mark.parametrize(
    ("broken", "text", "extra", "names"),
    [
        ("csv/scalars.csv", "round,tag,value\nfour,train/loss_d,1\n", (), "scalars.csv is not"),
        ("trackers.json", '["not", "ids"]', ("logger=[csv,mlflow]",), "trackers.json is not"),
    ],
)
def test_a_resume_with_a_malformed_tracker_file_is_one_line(
    trained, tmp_path, broken, text, extra, names
):
    run, out, before = _resume(trained, tmp_path, broken, text, extra)
    assert_refused(out, names, before, tmp_path, allowed=("run/",))
    assert (run / broken).read_text() == text
    assert json.loads((run / "summary.json").read_text())["status"] != "running"


@pytest.mark.promise("timeouts")
def test_a_tracker_server_on_a_closed_port_is_refused_in_seconds(mnist_root, tmp_path):
    uri = f"http://127.0.0.1:{_closed_port()}"
    args = cli_args(
        mnist_root,
        tmp_path / "run",
        [
            "trainer.rounds=2",
            "logger=mlflow",
            f"logger.mlflow.tracking_uri={uri}",
            "logger.mlflow.timeout_s=2",
        ],
    )
    out = run_refused(args, tmp_path)
    assert_refused(out, "connection refused", seconds=40)
