"""dataset=hf and gantrain-pack on Hugging Face datasets saved in the test: save_to_disk
folders and Parquet files, the same decoder, labels, limit, held or streamed, held-out splits."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from data_files import write_odd_images
from PIL import Image
from test_pack import read_pack, run_pack

from gantrain.data import hf, image_folder
from gantrain.data.labelled import Labelled
from gantrain.errors import UserError

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def hf_cache(tmp_path, monkeypatch):
    """Parquet files are converted into the datasets cache: keep it inside the test."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))


def _pictures(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (18 + i % 5, 24, 3), dtype=np.uint8)) for i in range(n)
    ]


def save_dataset(where: Path, n_train: int = 7, n_test: int = 3) -> list[int]:
    """A DatasetDict with train and test splits (Image + ClassLabel columns) saved with
    save_to_disk, and the same train split as Parquet under where/parquet; the train labels."""
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=["ant", "bee", "cow"])}
    )
    labels = [i % 3 for i in range(n_train)]
    train = datasets.Dataset.from_dict({"image": _pictures(n_train), "label": labels}, features)
    test = datasets.Dataset.from_dict(
        {"image": _pictures(n_test, 1), "label": [0] * n_test}, features
    )
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(where / "saved"))
    (where / "parquet").mkdir()
    train.to_parquet(str(where / "parquet" / "train-00000.parquet"))
    return labels


@pytest.mark.slow
def test_saved_dataset_held_streamed_and_parquet_agree(tmp_path):
    labels = save_dataset(tmp_path)
    held = hf.load(str(tmp_path / "saved"), image_size=16, labels=True, workers=0)
    assert isinstance(held, Labelled) and held.classes == ["ant", "bee", "cow"]
    assert held.images.shape == (7, 3, 16, 16) and held.labels.tolist() == labels
    streamed = hf.load(str(tmp_path / "saved"), image_size=16, labels=True, in_memory_max=0)
    assert len(streamed.images) == 7
    for i in range(7):
        image, label = streamed.images[i]
        assert torch.equal(image, held.images[i]) and label == labels[i]
    parquet = hf.load(str(tmp_path / "parquet"), image_size=16, labels=True, workers=0)
    assert torch.equal(parquet.images, held.images) and parquet.labels.tolist() == labels
    limited = hf.load(str(tmp_path / "saved"), image_size=16, limit=4, limit_seed=1, workers=0)
    assert limited.shape == (4, 3, 16, 16)
    assert any(torch.equal(limited[0], held.images[i]) for i in range(7))


def test_held_out_split_for_references(tmp_path, caplog):
    save_dataset(tmp_path)
    assert hf.load(str(tmp_path / "saved"), image_size=16, split="test").shape[0] == 3
    with caplog.at_level(logging.INFO):  # Parquet of one split: its training rows stand in
        assert hf.load(str(tmp_path / "parquet"), image_size=16, split="test").shape[0] == 7
    assert "no test split" in caplog.text
    with pytest.raises(UserError, match="split=extra is not in .*its splits: train, test"):
        hf.load(str(tmp_path / "saved"), split="extra")


def test_odd_images_through_hf_as_through_image_folder(tmp_path):
    cases = write_odd_images(tmp_path / "odd")
    good = [n for n, why in cases.items() if why == "ok"]
    # raw bytes in a binary column: the one decoder reads them, not the datasets library
    table = datasets.Dataset.from_dict(
        {"png": [(tmp_path / "odd" / n).read_bytes() for n in cases]}
    )
    table.save_to_disk(str(tmp_path / "odd_saved"))
    got = hf.load(str(tmp_path / "odd_saved"), image_column="png", image_size=16, workers=0)
    held = image_folder.load(tmp_path / "odd", image_size=16, workers=0)
    assert got.shape[0] == len(good) and torch.equal(got, held)


def test_mistakes_are_one_line(tmp_path):
    save_dataset(tmp_path)
    with pytest.raises(UserError, match="dataset.image_column=img is not a column .*image, label"):
        hf.load(str(tmp_path / "saved"), image_column="img")
    with pytest.raises(UserError, match="conditional=true needs class labels"):
        hf.load(str(tmp_path / "saved"), label_column=None, labels=True)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(UserError, match="neither a saved Hugging Face dataset"):
        hf.load(str(tmp_path / "nothing"))
    with pytest.raises(UserError, match="dataset.root is not set"):
        hf.load(None)


def test_pack_a_saved_dataset_and_parquet(tmp_path):
    labels = save_dataset(tmp_path)
    run_pack(tmp_path / "saved", tmp_path / "out")
    manifest, images, got = read_pack(tmp_path / "out")
    assert got == labels and manifest["classes"] == ["ant", "bee", "cow"]
    assert manifest["class_counts"] == [3, 2, 2]
    held = hf.load(str(tmp_path / "saved"), image_size=16, workers=0)
    assert torch.equal(images, held)
    run_pack(tmp_path / "saved", tmp_path / "test_out", split="test", label_column=None)
    manifest, _, got = read_pack(tmp_path / "test_out")
    assert manifest["count"] == 3 and manifest["classes"] is None and got is None
    run_pack(tmp_path / "parquet" / "train-00000.parquet", tmp_path / "pq_out")
    assert torch.equal(read_pack(tmp_path / "pq_out")[1], images)


def test_fid_references_come_from_the_held_out_split(tmp_path):
    from gantrain.metrics.data import describe, reference_images

    save_dataset(tmp_path)
    cfg = {
        "_target_": "gantrain.data.hf.load",
        "root": str(tmp_path / "saved"),
        "split": "train",
        "image_size": 16,
        "workers": 0,
        "limit": 2,
        "limit_seed": 0,
    }
    test = reference_images(cfg, "test")
    assert torch.equal(test, hf.load(str(tmp_path / "saved"), split="test", image_size=16))
    assert reference_images(cfg, "train").shape[0] == 7  # never limited
    assert describe(cfg) == "hf"


def test_without_the_datasets_package(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets then fails
    with pytest.raises(UserError, match='pip install "gantrain\\[hf\\]"'):
        hf.load(str(tmp_path))
