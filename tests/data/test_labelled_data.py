"""Labels through the data path: every labelled loader, image-folder classes, held and streamed
batches that keep images and labels together."""

from __future__ import annotations

import pytest
import torch
from data_files import coloured_picture, digit_like, write_celeba

from gantrain.data import celeba, digits, image_folder, make_batches, torchvision_sets
from gantrain.data.labelled import Labelled, split
from gantrain.errors import UserError


def _class_folders(root, counts: dict[str, int]) -> None:
    for c, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            coloured_picture(20 + i, 20, 10 * c + i).save(root / name / f"{i}.png")


def test_mnist_labels_are_the_idx_labels(mnist_root):
    got = torchvision_sets.load("mnist", str(mnist_root), download=False, labels=True)
    _, want = digit_like(256, 0)
    assert isinstance(got, Labelled) and got.images.shape == (256, 1, 28, 28)
    assert got.labels.dtype == torch.int64 and got.labels.tolist() == want.tolist()
    assert len(got.classes) == 10
    plain = torchvision_sets.load("mnist", str(mnist_root), download=False)
    assert torch.equal(plain, got.images)


def test_digits_labels():
    got = digits.load(16, 1, labels=True)
    assert got.labels.shape == (1797,) and set(got.labels.tolist()) == set(range(10))
    assert got.classes == [str(d) for d in range(10)]


def test_image_folder_classes_are_sorted_subfolders_and_follow_dropped_files(tmp_path):
    _class_folders(tmp_path, {"dogs": 3, "cats": 2, "birds": 4})
    (tmp_path / "cats" / "broken.png").write_bytes(b"not a png")  # dropped, labels stay aligned
    coloured_picture(30, 30, 99).save(tmp_path / "loose.png")  # outside any class: left out
    got = image_folder.load(str(tmp_path), image_size=16, channels=3, labels=True)
    assert got.classes == ["birds", "cats", "dogs"]
    assert got.labels.tolist() == [0] * 4 + [1] * 2 + [2] * 3
    assert got.images.shape == (9, 3, 16, 16)
    # each image is the one decoded from its own class folder
    alone = image_folder.load(str(tmp_path / "dogs"), image_size=16, channels=3)
    assert torch.equal(got.images[-3:], alone)


def test_streamed_image_folder_yields_images_with_their_labels(tmp_path):
    _class_folders(tmp_path, {"a": 5, "b": 5})
    held = image_folder.load(str(tmp_path), image_size=16, channels=3, labels=True)
    streamed = image_folder.load(str(tmp_path), 16, 3, in_memory_max=4, workers=0, labels=True)
    assert not isinstance(streamed.images, torch.Tensor)
    batches = make_batches(streamed, 4, torch.device("cpu"), seed=0, workers=0)
    for _ in range(3):  # across an epoch boundary
        x, y = split(batches())
        for image, label in zip(x, y):
            # the held copy of this exact image has the same label
            match = (held.images.float().div(127.5).sub(1) - image).abs().flatten(1).amax(1) < 1e-6
            assert held.labels[match].tolist() == [int(label)]
    images, labels = batches.fixed(6, torch.Generator().manual_seed(0))
    assert images.shape == (6, 3, 16, 16) and labels.shape == (6,)


def test_held_batches_gather_images_and_labels_by_the_same_indices():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous()
    source = Labelled(images, torch.arange(10) % 3, ["x", "y", "z"])
    batches = make_batches(source, 5, torch.device("cpu"), seed=1)
    for _ in range(4):
        x, y = batches()
        pixel = x[:, 0, 0, 0].add(1).mul(127.5).round().long()
        assert torch.equal(y, pixel % 3)
    assert batches.classes == ["x", "y", "z"]


def test_flat_folder_single_class_and_celeba_are_refused_with_why(tmp_path):
    for i in range(3):
        coloured_picture(20, 20, i).save(tmp_path / f"{i}.png")
    with pytest.raises(UserError, match="flat folder.*one subfolder per class"):
        image_folder.load(str(tmp_path), 16, 3, labels=True)
    _class_folders(tmp_path / "one", {"only": 2})
    with pytest.raises(UserError, match="at least 2 classes"):
        image_folder.load(str(tmp_path / "one"), 16, 3, labels=True)
    write_celeba(tmp_path / "c")
    with pytest.raises(UserError, match="celeba has none.*dataset=image_folder"):
        celeba.load(str(tmp_path / "c"), 16, 3, download=False, labels=True)
