"""gantrain-pack: every kind of source, the manifest's counts and hashes, resuming, and the odd
images of a pack giving the same pixels through dataset=image_folder."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from data_files import write_cifar10, write_mnist_family, write_odd_images
from PIL import Image

from gantrain.commands.pack import pack
from gantrain.data import image_folder
from gantrain.data.pack import run as pack_run
from gantrain.errors import UserError


def read_pack(out: Path) -> tuple[dict, torch.Tensor, list[int] | None]:
    """(manifest, uint8 (N, C, S, S) in key order, labels) of a pack, checked against its
    manifest: counts, sizes and sha256 of every shard, keys 0..N-1 in order."""
    manifest = json.loads((out / "manifest.json").read_text())
    images, labels, keys = [], [], []
    for shard in manifest["shards"]:
        data = (out / shard["name"]).read_bytes()
        assert len(data) == shard["bytes"]
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
            files = {m.name: tar.extractfile(m).read() for m in members}
        names = [m.name for m in members]
        pics = [n for n in names if n.endswith("." + manifest["image_format"])]
        assert len(pics) == shard["count"]
        for name in pics:
            key = name.split(".")[0]
            keys.append(key)
            arr = np.asarray(Image.open(io.BytesIO(files[name])))
            arr = arr[..., None] if arr.ndim == 2 else arr
            images.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))
            if manifest["classes"] is not None:
                labels.append(int(files[f"{key}.cls"].decode("ascii")))
    assert keys == [f"{i:09d}" for i in range(manifest["count"])]
    stacked = torch.stack(images)
    s, c = manifest["image_size"], manifest["channels"]
    assert stacked.shape == (manifest["count"], c, s, s)
    if manifest["classes"] is not None:
        assert (
            manifest["class_counts"]
            == np.bincount(labels, minlength=len(manifest["classes"])).tolist()
        )
    return manifest, stacked, (labels if manifest["classes"] is not None else None)


def run_pack(src, out, **keys):
    keys = {
        "image_size": 16,
        "channels": 3,
        "shard_mb": 0.003,
        "workers": 0,
        "progress": False,
        **keys,
    }
    return pack(src=str(src), out=str(out), **keys)


def _classed_folder(root: Path) -> list[int]:
    """Two class folders of small pictures; returns each image's class in sorted-path order."""
    labels = []
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(4 + c):
            arr = np.full((20 + i, 24, 3), 30 * i + 90 * c, np.uint8)
            Image.fromarray(arr).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
            labels.append(c)
    return labels


@pytest.mark.parametrize("fit", ["crop", "pad", "stretch"])
def test_odd_images_are_packed_as_image_folder_decodes_them(tmp_path, fit):
    cases = write_odd_images(tmp_path / "odd")
    filt = "lanczos" if fit == "pad" else "bicubic"
    line = run_pack(tmp_path / "odd", tmp_path / "out", fit=fit, filter=filt)
    manifest, packed, _ = read_pack(tmp_path / "out")
    bad = {Path(s["path"]).name: s["why"].split(":")[0] for s in manifest["skipped"]}
    assert bad == {k: v for k, v in cases.items() if v != "ok"}
    assert manifest["count"] == sum(v == "ok" for v in cases.values()) and "2 skipped" in line
    assert manifest["resize"] == {"filter": filt, "fit": fit, "background": [255, 255, 255]}
    held = image_folder.load(
        tmp_path / "odd", image_size=16, channels=3, workers=0, fit=fit, filter=filt
    )
    assert torch.equal(held, packed)  # the same pixels, case by case


def test_grey_pad_on_a_stated_background(tmp_path):
    Image.new("RGB", (40, 10), (0, 0, 0)).save(tmp_path / "wide.png")
    run_pack(tmp_path, tmp_path / "out", channels=1, fit="pad", background=[0, 0, 255])
    _, packed, _ = read_pack(tmp_path / "out")
    img = packed[0, 0]  # (16, 16): a 16 x 4 black band, the rest blue's luma (29)
    assert img[8].max() <= 1 and img[0].min() == img[0].max() == 29


def test_classes_zip_and_tar_pack_alike(tmp_path):
    labels = _classed_folder(tmp_path / "pets")
    run_pack(tmp_path / "pets", tmp_path / "from_folder", shard_mb=0.002)
    manifest, images, got = read_pack(tmp_path / "from_folder")
    assert manifest["classes"] == ["cats", "dogs"] and got == labels
    assert manifest["class_counts"] == [4, 5] and len(manifest["shards"]) > 2
    with zipfile.ZipFile(tmp_path / "pets.zip", "w") as z:  # members under one top folder
        for p in sorted((tmp_path / "pets").rglob("*.*")):
            z.write(p, Path("pets") / p.relative_to(tmp_path / "pets"))
    with tarfile.open(tmp_path / "pets.tar", "w") as t:
        t.add(tmp_path / "pets", arcname=".")
    for archive in ("pets.zip", "pets.tar"):
        run_pack(tmp_path / archive, tmp_path / archive.replace(".", "_"), shard_mb=0.002)
        again, same, got = read_pack(tmp_path / archive.replace(".", "_"))
        assert got == labels and torch.equal(same, images)
        assert [s["sha256"] for s in again["shards"]] == [s["sha256"] for s in manifest["shards"]]


@pytest.mark.slow
def test_torchvision_roots(tmp_path, monkeypatch):
    from torchvision.datasets import cifar, utils

    # tiny CIFAR files cannot match the real ones' md5 sums: keep only the existence check
    monkeypatch.setattr(cifar, "check_integrity", lambda f, md5=None: utils.check_integrity(f))
    digits = write_mnist_family(tmp_path / "tv", "MNIST", n_train=20, n_test=6)
    run_pack(tmp_path / "tv", tmp_path / "mnist", image_size=28, channels=1)
    manifest, images, labels = read_pack(tmp_path / "mnist")
    assert manifest["classes"][0].startswith("0") and len(labels) == 20
    assert torch.equal(images[:, 0], torch.from_numpy(digits))  # 28 -> 28: pixels unchanged
    run_pack(
        tmp_path / "tv" / "MNIST", tmp_path / "mnist_test", image_size=28, channels=1, split="test"
    )
    assert read_pack(tmp_path / "mnist_test")[0]["count"] == 6
    cifar = write_cifar10(tmp_path / "c", per_batch=3)
    run_pack(tmp_path / "c", tmp_path / "cifar", image_size=32, format="png")
    manifest, images, labels = read_pack(tmp_path / "cifar")
    assert torch.equal(images, torch.from_numpy(cifar)) and manifest["classes"][0] == "class0"


def test_jpeg_shards(tmp_path):
    _classed_folder(tmp_path / "pets")
    run_pack(tmp_path / "pets", tmp_path / "out", format="jpg", quality=90)
    manifest, images, _ = read_pack(tmp_path / "out")
    held = image_folder.load(tmp_path / "pets", image_size=16, workers=0)
    assert manifest["image_format"] == "jpg" and (images.float() - held.float()).abs().mean() < 8


def _interrupt_after(monkeypatch, shards: int) -> None:
    """Ctrl-C as the pack finishes its `shards`-th shard."""
    real, done = pack_run._commit, []

    def commit(*args):
        real(*args)
        done.append(1)
        if len(done) == shards:
            raise KeyboardInterrupt

    monkeypatch.setattr(pack_run, "_commit", commit)


def test_an_interrupted_pack_continues_to_the_same_shards(tmp_path, monkeypatch):
    _classed_folder(tmp_path / "pets")
    write_odd_images(tmp_path / "pets" / "dogs")
    run_pack(tmp_path / "pets", tmp_path / "whole", shard_mb=0.002)
    whole = json.loads((tmp_path / "whole" / "manifest.json").read_text())
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(pack_run.Interrupted, match="3 finished shards"):
        run_pack(tmp_path / "pets", tmp_path / "cut", shard_mb=0.002)
    assert not (tmp_path / "cut" / "manifest.json").exists()
    assert not list((tmp_path / "cut").glob("*.partial"))
    monkeypatch.undo()
    # a finished shard that was damaged since is packed again, and so is everything after it
    (tmp_path / "cut" / "shard-000001.tar").write_bytes(b"damaged")
    run_pack(tmp_path / "pets", tmp_path / "cut", shard_mb=0.002)
    cut = json.loads((tmp_path / "cut" / "manifest.json").read_text())
    assert cut["shards"] == whole["shards"] and cut["skipped"] == whole["skipped"]
    assert cut["class_counts"] == whole["class_counts"] and read_pack(tmp_path / "cut")
    assert not (tmp_path / "cut" / pack_run.PROGRESS).exists()
    assert "already a complete pack" in run_pack(
        tmp_path / "pets", tmp_path / "cut", shard_mb=0.002
    )


def test_refusals(tmp_path):
    _classed_folder(tmp_path / "pets")
    run_pack(tmp_path / "pets", tmp_path / "out")
    with pytest.raises(UserError, match="other settings, image_size=16 \\(not 32\\)"):
        run_pack(tmp_path / "pets", tmp_path / "out", image_size=32)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="holds other files"):
        run_pack(tmp_path / "pets", tmp_path / "busy")
    (tmp_path / "early").mkdir()  # stopped before its first shard was recorded
    (tmp_path / "early" / "shard-000000.tar.partial").write_bytes(b"half")
    run_pack(tmp_path / "pets", tmp_path / "early")
    assert read_pack(tmp_path / "early")[0]["count"] == 9
    assert not list((tmp_path / "early").glob("*.partial"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no PNG or JPEG"):
        run_pack(tmp_path / "empty", tmp_path / "o2")
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="zip or tar"):
        run_pack(tmp_path / "x.zip", tmp_path / "o3")
    shutil.rmtree(tmp_path / "pets" / "cats")
    with pytest.raises(UserError, match="other settings, items"):
        run_pack(tmp_path / "pets", tmp_path / "out")


def test_a_full_disk_keeps_the_finished_shards(tmp_path, monkeypatch):
    import errno

    _classed_folder(tmp_path / "pets")
    added = []

    class Full(pack_run.ShardWriter):
        def add(self, *args):
            added.append(1)
            if len(added) == 5:
                raise OSError(errno.ENOSPC, "No space left on device")
            super().add(*args)

    monkeypatch.setattr(pack_run, "ShardWriter", Full)
    with pytest.raises(UserError, match="no space left on device.*shards \\(.* images\\) kept in"):
        run_pack(tmp_path / "pets", tmp_path / "out", shard_mb=0.002)
    assert not list((tmp_path / "out").glob("*.partial"))
    monkeypatch.undo()
    run_pack(tmp_path / "pets", tmp_path / "out", shard_mb=0.002)
    run_pack(tmp_path / "pets", tmp_path / "whole", shard_mb=0.002)
    read_pack(tmp_path / "out")
    shards = [
        json.loads((tmp_path / d / "manifest.json").read_text())["shards"] for d in ("out", "whole")
    ]
    assert shards[0] == shards[1]
