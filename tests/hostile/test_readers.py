"""The catalog's readers: what a shard set, an image folder or a pack source may hold that
gantrain did not write. Each case runs the real console script on a hostile input built here
(a real localhost server for the network ones) and asserts one line, a non-zero exit, nothing
written outside what the command owns, and bounded time and memory."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from hostile.bombs import bomb_png, stalled_server, zip_bomb
from hostile.catalog import assert_refused, files_under, run_refused
from shard_sets import serve, write_set, write_shards

pytestmark = pytest.mark.slow

TINY = [
    "device=cpu",
    "device.threads=1",
    "trainer.batch_size=4",
    "trainer.rounds=2",
    "model.width=8",
    "model.max_width=16",
    "objective.critic.width=8",
    "objective.critic.max_width=16",
    "eval.at=[]",
    "trainer.sample_at=[]",
]


def _train(tmp_path: Path, root, *extra: str, env: dict | None = None):
    args = [
        "dataset=shards",
        f"dataset.root={root}",
        "dataset.image_size=16",
        *TINY,
        f"hydra.run.dir={tmp_path / 'run'}",
        *extra,
    ]
    return run_refused(
        args, tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "cache"), **(env or {})}
    )


def _rename_shard(root: Path, index: int, name: str, move_to: Path | None = None) -> None:
    """The manifest's shard `index` renamed (its bytes and sha256 unchanged); its file moved to
    move_to, so that the hostile name would find it."""
    manifest = json.loads((root / "manifest.json").read_text())
    entry = manifest["shards"][index]
    if move_to is not None:
        move_to.parent.mkdir(parents=True, exist_ok=True)
        (root / entry["name"]).replace(move_to)
    entry["name"] = name
    (root / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.promise("containment")
def test_a_remote_manifest_naming_a_path_outside_the_cache_writes_nothing(tmp_path):
    served = write_shards(tmp_path / "served", [6, 6], size=16)
    # the server drops '..' from the path, so it answers with these bytes and the right sha256
    _rename_shard(served, 1, "../../../../escaped.tar", served / "escaped.tar")
    before = files_under(tmp_path)
    url, server = serve(served)
    try:
        out = _train(tmp_path, url, "dataset.held_out=1")
    finally:
        server.shutdown()
    line = assert_refused(out, "../../../../escaped.tar", before, tmp_path, ("run", "cache"))
    assert "leads outside" in line and not (tmp_path / "escaped.tar").exists()


@pytest.mark.promise("containment")
def test_a_local_manifest_naming_a_shard_outside_its_folder_is_not_read(tmp_path):
    root = write_shards(tmp_path / "shards", [6, 6], size=16)
    _rename_shard(root, 0, "../outside.tar", tmp_path / "outside.tar")
    before = files_under(tmp_path)
    out = _train(tmp_path, root)
    assert_refused(out, "../outside.tar", before, tmp_path, ("run", "cache"))


@pytest.mark.promise("malformed")
@pytest.mark.parametrize(
    "change, names",
    [
        ({"version": "one"}, "version"),
        ({"count": "many"}, "count"),
        ({"shards": None}, "shards"),
        ({"shards": [{"name": "shard-000000.tar", "count": "six"}]}, "shards[0].count"),
    ],
)
def test_a_manifest_with_a_wrong_type_is_one_line(tmp_path, change, names):
    root = write_shards(tmp_path / "shards", [6], size=16)
    manifest = {**json.loads((root / "manifest.json").read_text()), **change}
    manifest = {k: v for k, v in manifest.items() if v is not None}
    (root / "manifest.json").write_text(json.dumps(manifest))
    before = files_under(tmp_path)
    out = _train(tmp_path, root)
    assert_refused(out, names, before, tmp_path, ("run",))


@pytest.mark.promise("bounded")
def test_a_pixel_bomb_inside_a_shard_is_refused_unread(tmp_path):
    png = bomb_png(12000, 12000)  # 144 M pixels, past the decoder's bound of 89 M
    small = write_shards(tmp_path / "small", [4], size=16, channels=1)
    with tarfile.open(small / "shard-000000.tar") as tar:
        files = [(tar.extractfile(m).read(), None) for m in tar.getmembers()]
    root = write_set(tmp_path / "shards", [[*files, (png, None)]], 16, 1, None)
    before = files_under(tmp_path)
    out = _train(tmp_path, root, "dataset.channels=1")
    line = assert_refused(out, "shard-000000.tar", before, tmp_path, ("run",))
    assert "pixels" in line


@pytest.mark.promise("timeouts")
def test_a_stalled_server_fails_within_the_timeout_naming_the_cause(tmp_path):
    url, sock = stalled_server()
    before = files_under(tmp_path)
    try:
        out = _train(tmp_path, url, "dataset.timeout=2")
    finally:
        sock.close()
    line = assert_refused(out, "no answer within 2 s", before, tmp_path, ("run",), seconds=40)
    assert "dataset.timeout" in line


@pytest.mark.promise("bounded")
def test_a_fifo_in_an_image_folder_is_skipped_not_waited_on(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")  # nothing ever writes to it: opening it blocks forever
    before = files_under(tmp_path)
    args = [
        "dataset=image_folder",
        f"dataset.root={folder}",
        "dataset.image_size=16",
        *TINY,
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    out = run_refused(args, tmp_path)
    assert_refused(out, "holds no PNG or JPEG images", before, tmp_path, ("run",))
    assert "not regular files" in out.stdout + out.stderr


@pytest.mark.promise("bounded")
def test_a_pixel_bomb_in_an_image_folder_is_refused_unread(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(bomb_png(12000, 12000))
    before = files_under(tmp_path)
    args = [
        "dataset=image_folder",
        f"dataset.root={folder}",
        "dataset.image_size=16",
        "dataset.channels=1",
        *TINY,
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    out = run_refused(args, tmp_path)
    assert_refused(out, "bomb.png", before, tmp_path, ("run",))


@pytest.mark.promise("bounded")
def test_a_zip_bomb_in_a_pack_source_is_cut_off_not_read_whole(tmp_path):
    src = zip_bomb(tmp_path / "photos.zip", "photos/a.png", 2**30)  # 1 GiB of zeros, ~4 MB
    before = files_under(tmp_path)
    out = run_refused([f"src={src}", f"out={tmp_path / 'packed'}"], tmp_path, "gantrain-pack")
    line = assert_refused(out, "a.png", before, tmp_path, ("packed",))
    assert "too large" in line


@pytest.mark.promise("containment")
def test_a_tar_member_escaping_its_archive_is_refused(tmp_path):
    src = tmp_path / "photos.tar"
    png = bomb_png(16, 16)
    with tarfile.open(src, "w") as tar:
        info = tarfile.TarInfo("../../evil.png")
        info.size = len(png)

        tar.addfile(info, io.BytesIO(png))
    before = files_under(tmp_path)
    out = run_refused([f"src={src}", f"out={tmp_path / 'packed'}"], tmp_path, "gantrain-pack")
    assert_refused(out, "../../evil.png", before, tmp_path, ("packed",))


@pytest.mark.promise("malformed")
def test_a_file_that_is_not_parquet_is_one_line(tmp_path):
    pytest.importorskip("datasets")
    (tmp_path / "train.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    before = files_under(tmp_path)
    args = [
        "dataset=hf",
        f"dataset.root={tmp_path / 'train.parquet'}",
        "dataset.image_size=16",
        *TINY,
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    out = run_refused(args, tmp_path, env={"HF_DATASETS_CACHE": str(tmp_path / "hf_cache")})
    assert_refused(
        out, "cannot be read as a saved dataset or Parquet", before, tmp_path, ("run", "hf_cache")
    )


@pytest.mark.promise("bounded")
def test_a_fifo_in_a_pack_source_is_skipped_not_waited_on(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")
    before = files_under(tmp_path)
    out = run_refused([f"src={folder}", f"out={tmp_path / 'packed'}"], tmp_path, "gantrain-pack")
    assert_refused(out, str(folder), before, tmp_path, ("packed",))
    assert "not regular files" in out.stdout + out.stderr
