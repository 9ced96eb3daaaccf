"""Every reader bounds what it reads from data gantrain did not write: names that lead outside
their folder are refused before anything is read or written, images past the pixel bound and
archive members past the size bound are refused unread, FIFOs are skipped, a silent server
fails within dataset.timeout, and a malformed manifest or Parquet file is one line."""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
import time
import zipfile

import numpy as np
import pytest
from hostile.bombs import bomb_png, stalled_server
from PIL import Image
from shard_sets import serve, write_set, write_shards

from gantrain.data import image_folder
from gantrain.data.decode import TooLarge
from gantrain.data.pack import sources as pack_sources
from gantrain.data.shards import load, split_images
from gantrain.data.shards.files import read_manifest
from gantrain.errors import UserError
from gantrain.files import Escapes


def _png(value: int = 128, size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((size, size), value, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _edit_manifest(root, **change) -> None:
    manifest = {**json.loads((root / "manifest.json").read_text()), **change}
    (root / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if v != "-"}))


@pytest.mark.parametrize(
    "change, names",
    [
        ({"version": "1"}, "version"),
        ({"version": True}, "version"),
        ({"count": -3}, "count"),
        ({"shards": "-"}, "shards"),
        ({"shards": {"name": "a"}}, "shards"),
        ({"shards": ["shard-000000.tar"]}, "shards[0]"),
        ({"shards": [{"name": "shard-000000.tar", "count": 2.5}]}, "shards[0].count"),
        (
            {"shards": [{"name": "shard-000000.tar", "count": 4, "bytes": "many"}]},
            "shards[0].bytes",
        ),
        ({"classes": "cats"}, "classes"),
    ],
)
def test_a_manifest_key_of_the_wrong_type_is_one_line(tmp_path, change, names):
    root = write_shards(tmp_path / "s", [4])
    _edit_manifest(root, **change)
    with pytest.raises(UserError) as err:
        load(str(root), image_size=8)
    assert names in str(err.value) and "\n" not in str(err.value)


def test_a_local_shard_named_outside_its_folder_is_never_read(tmp_path):
    root = write_shards(tmp_path / "s", [4])
    (root / "shard-000000.tar").replace(tmp_path / "outside.tar")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["shards"][0]["name"] = "../outside.tar"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Escapes, match=r"'\.\./outside\.tar'"):
        load(str(root), image_size=8)
    # a link inside the folder that leads out is refused too
    manifest["shards"][0]["name"] = "link.tar"
    (root / "manifest.json").write_text(json.dumps(manifest))
    (root / "link.tar").symlink_to(tmp_path / "outside.tar")
    with pytest.raises(Escapes, match="link.tar"):
        load(str(root), image_size=8)


def test_a_remote_shard_named_outside_the_cache_is_neither_fetched_nor_written(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    served = write_shards(tmp_path / "served", [4, 4])
    manifest = json.loads((served / "manifest.json").read_text())
    (served / "shard-000001.tar").replace(served / "escaped.tar")
    manifest["shards"][1]["name"] = "../../../../escaped.tar"  # the server drops the '..'
    (served / "manifest.json").write_text(json.dumps(manifest))
    url, server = serve(served)
    try:
        with pytest.raises(Escapes, match="escaped.tar"):
            split_images(url, 8, 3, held_out=1, reference=None)
    finally:
        server.shutdown()
    assert not (tmp_path / "escaped.tar").exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_remote_shards_are_cached_inside_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    url, server = serve(write_shards(tmp_path / "served", [4, 4]))
    try:
        images = split_images(url, 8, 3, held_out=1, reference=None)
    finally:
        server.shutdown()
    assert images.shape == (4, 3, 8, 8)
    cached = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert cached == ["shard-000001.tar"]


def test_a_shard_holding_an_image_past_the_pixel_bound_is_refused_unread(tmp_path):
    bomb = bomb_png(10000, 9000)  # 90 M pixels, just past the bound; ~90 KB of file
    root = write_set(tmp_path / "s", [[(_png(), None), (bomb, None)]], 8, 1, None)
    with pytest.raises(UserError, match=r"shard-000000.tar holds an image over 89,478,485 pixels"):
        load(str(root), image_size=8, channels=1, workers=0)


def test_a_silent_server_fails_within_the_timeout_naming_it(tmp_path):
    url, sock = stalled_server()
    start = time.monotonic()
    try:
        with pytest.raises(UserError, match=r"no answer within 1 s \(dataset.timeout=1\)"):
            read_manifest(url, timeout=1.0)
    finally:
        sock.close()
    assert time.monotonic() - start < 15


def test_fifos_in_an_image_folder_are_skipped_and_counted(tmp_path, caplog):
    (tmp_path / "a.png").write_bytes(_png(200))
    os.mkfifo(tmp_path / "b.png")  # opening it would wait for a writer forever
    os.mkfifo(tmp_path / "c.jpg")
    with caplog.at_level(logging.WARNING):
        images = image_folder.load(str(tmp_path), image_size=8, channels=1, workers=0)
    assert images.shape == (1, 1, 8, 8) and int(images[0, 0, 0, 0]) == 200
    assert "skipped 2 entries" in caplog.text and "not regular files" in caplog.text


def test_an_archive_member_past_the_size_bound_is_cut_off(tmp_path, monkeypatch):
    monkeypatch.setattr(pack_sources, "MAX_FILE_BYTES", 2**16)
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("small.png", _png())
        z.writestr("huge.png", b"\0" * 2**18)
    with tarfile.open(tmp_path / "a.tar", "w") as t:
        for name, data in (("small.png", _png()), ("huge.png", b"\0" * 2**18)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    for name in ("a.zip", "a.tar"):
        source = pack_sources.Archive(tmp_path / name)
        assert source.names == ["huge.png", "small.png"]
        assert source.item(1) == _png()
        with pytest.raises(TooLarge, match="huge.png"):
            source.item(0)


def test_an_archive_member_named_outside_the_archive_is_refused(tmp_path):
    with tarfile.open(tmp_path / "a.tar", "w") as t:
        info = tarfile.TarInfo("photos/../../evil.png")
        info.size = len(_png())
        t.addfile(info, io.BytesIO(_png()))
    with pytest.raises(Escapes, match="evil.png"):
        pack_sources.Archive(tmp_path / "a.tar")


def _parquet_of_paths(path, cells: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(pa.table({"image": pa.array(cells, kind)}), path)


def test_a_table_naming_a_file_outside_its_folder_is_refused_unread(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from gantrain.data import hf

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.png").write_bytes(_png(60))
    (tmp_path / "secret.png").write_bytes(_png(250))
    inside = {"bytes": None, "path": str(tmp_path / "data" / "in.png")}
    _parquet_of_paths(
        tmp_path / "data" / "train.parquet", [inside, {"bytes": None, "path": "in.png"}]
    )
    images = hf.load(str(tmp_path / "data"), image_size=8, channels=1, workers=0)
    assert images.shape == (2, 1, 8, 8) and int(images[1, 0, 0, 0]) == 60
    for bad in (str(tmp_path / "secret.png"), "../secret.png"):
        _parquet_of_paths(
            tmp_path / "data" / "train.parquet", [inside, {"bytes": None, "path": bad}]
        )
        with pytest.raises(Escapes, match=r"row 1 of .*secret\.png"):
            hf.load(str(tmp_path / "data"), image_size=8, channels=1, workers=0)


def test_a_file_that_is_not_parquet_is_one_line(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from gantrain.data import hf

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    (tmp_path / "train.parquet").write_bytes(b"PAR1 this is not parquet at all PAR1")
    with pytest.raises(UserError, match="cannot be read as a saved dataset or Parquet") as err:
        hf.load(str(tmp_path / "train.parquet"), image_size=8)
    assert "\n" not in str(err.value)


def test_a_celeba_list_naming_a_file_outside_its_folder_is_refused(tmp_path, monkeypatch):
    from data_files import write_celeba
    from torchvision.datasets import celeba as tv_celeba
    from torchvision.datasets import utils

    # the lists are edited here: only their presence is checked, as in test_datasets.py
    monkeypatch.setattr(tv_celeba, "check_integrity", lambda f, md5=None: utils.check_integrity(f))

    from gantrain.data import celeba

    write_celeba(tmp_path)
    for name in os.listdir(tmp_path / "celeba"):
        if name.endswith(".txt"):  # every list names the first image by a path that leaves
            path = tmp_path / "celeba" / name
            path.write_text(path.read_text().replace("000001.jpg", "../../../secret.jpg"))
    with pytest.raises(Escapes, match="secret.jpg"):
        celeba.load(str(tmp_path), image_size=8, download=False, workers=0)
