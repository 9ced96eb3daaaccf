"""gantrain-pack run again over what is already in out=: a finished pack whose shard lost a byte
is redone (the same bytes as before), and a progress record or manifest that gantrain did not
write (malformed, or naming files outside out=) is one line, with nothing outside out= read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrain.commands.pack import pack
from gantrain.errors import UserError


def _classes(root: Path) -> None:
    """Two class folders of small pictures and one unreadable file (a skipped entry)."""
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (root / name).mkdir(parents=True)
        for i in range(5):
            arr = rng.integers(0, 256, (18 + i, 20, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / name / f"{i}.png")
    (root / "cats" / "2b.png").write_bytes(b"not a png")


def _pack(src: Path, out: Path) -> str:
    return pack(
        src=str(src), out=str(out), image_size=16, shard_mb=0.002, workers=0, progress=False
    )


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[700] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_finished_pack_with_a_changed_shard_is_redone_from_that_shard(tmp_path):
    _classes(tmp_path / "pets")
    _pack(tmp_path / "pets", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert len(manifest["shards"]) >= 3 and manifest["skipped"]
    shards = {s["name"]: (tmp_path / "out" / s["name"]).read_bytes() for s in manifest["shards"]}
    bad = manifest["shards"][1]["name"]
    _flip_a_byte(tmp_path / "out" / bad)
    line = _pack(tmp_path / "pets", tmp_path / "out")
    assert line.startswith(f"packed {manifest['count']} images"), line
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest
    assert {n: (tmp_path / "out" / n).read_bytes() for n in shards} == shards
    assert not (tmp_path / "out" / "pack-progress.json").exists()
    assert _pack(tmp_path / "pets", tmp_path / "out").endswith("nothing to do")


@pytest.mark.parametrize(
    "record",
    [
        "[1, 2]",
        '{"settings": {}, "shards": "all", "skipped": [], "class_counts": {}}',
        '{"settings": {}, "shards": [{"name": 3}], "skipped": [], "class_counts": {}}',
        "{not json",
    ],
)
def test_a_malformed_progress_record_is_one_line(tmp_path, record):
    _classes(tmp_path / "pets")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "pack-progress.json").write_text(record)
    with pytest.raises(UserError, match="pack-progress.json is not a gantrain-pack progress"):
        _pack(tmp_path / "pets", tmp_path / "out")
    assert (tmp_path / "out" / "pack-progress.json").read_text() == record


@pytest.mark.parametrize("name", ["../victim.tar", "/tmp/shard-000000.tar", "shard-000000.tar/.."])
def test_a_progress_record_naming_files_outside_out_is_refused_unread(tmp_path, name):
    _classes(tmp_path / "pets")
    _pack(tmp_path / "pets", tmp_path / "whole")
    manifest = json.loads((tmp_path / "whole" / "manifest.json").read_text())
    victim = tmp_path / "victim.tar"
    victim.write_bytes(b"the user's own file")
    record = {
        "settings": manifest["settings"],
        "skipped": [],
        "class_counts": {},
        "shards": [{"name": name, "count": 1, "sha256": "0" * 64, "next": 1, "class_counts": {}}],
    }
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "pack-progress.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="is not a gantrain-pack progress record"):
        _pack(tmp_path / "pets", tmp_path / "out")
    assert victim.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["pack-progress.json"]


def test_a_shard_name_that_is_a_link_out_of_out_is_refused(tmp_path):
    _classes(tmp_path / "pets")
    _pack(tmp_path / "pets", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    first = tmp_path / "out" / manifest["shards"][0]["name"]
    (tmp_path / "elsewhere").mkdir()
    first.rename(tmp_path / "elsewhere" / first.name)
    first.symlink_to(tmp_path / "elsewhere" / first.name)
    with pytest.raises(UserError, match="manifest.json is not a gantrain-pack manifest"):
        _pack(tmp_path / "pets", tmp_path / "out")
