"""dataset.limit: a fixed random subset of the training images, the same whatever the run's
seed, held or streamed; metrics still compare against the full splits."""

import logging

import pytest
import torch
from data_files import write_image_folder
from helpers import compose_cfg, tiny_train

from gantrain.config import build
from gantrain.data.subset import chosen
from gantrain.errors import UserError
from gantrain.metrics.data import labelled_split, reference_images


def mnist(root, *overrides):
    return build(compose_cfg([f"dataset.root={root}", *overrides]).dataset)


def test_limit_keeps_a_subset_fixed_by_its_own_seed(mnist_root):
    full = mnist(mnist_root)
    a = mnist(mnist_root, "dataset.limit=40", "seed=1")
    b = mnist(mnist_root, "dataset.limit=40", "seed=2")  # the run's seed does not choose
    other = mnist(mnist_root, "dataset.limit=40", "dataset.limit_seed=1")
    assert a.shape == (40, 1, 28, 28) and torch.equal(a, b)
    assert not torch.equal(a, other)
    rows = {bytes(img.numpy()) for img in full}  # every kept image is one of the dataset's
    assert all(bytes(img.numpy()) in rows for img in a)
    assert len({bytes(img.numpy()) for img in a}) == 40  # without repeats


def test_limit_above_the_dataset_is_one_line(mnist_root):
    with pytest.raises(UserError) as err:
        mnist(mnist_root, "dataset.limit=257")
    text = str(err.value)
    assert "\n" not in text and "dataset.limit=257 exceeds the 256 images" in text
    assert "dataset.limit=256 or fewer" in text


def test_metrics_read_the_full_splits_of_a_limited_dataset(mnist_root):
    cfg = compose_cfg([f"dataset.root={mnist_root}", "dataset.limit=10"]).dataset
    assert reference_images(cfg, "test").shape[0] == 64
    assert reference_images(cfg, "train").shape[0] == 256
    images, labels = labelled_split(cfg, train=True)
    assert images.shape[0] == labels.shape[0] == 256


def test_image_folder_limit_is_the_same_held_or_streamed(tmp_path):
    write_image_folder(tmp_path, n=12, corrupt=0)
    base = [
        "dataset=image_folder",
        f"dataset.root={tmp_path}",
        "dataset.image_size=16",
        "dataset.workers=0",
        "dataset.limit=5",
        "dataset.limit_seed=3",
    ]
    held = build(compose_cfg(base).dataset)
    streamed = build(compose_cfg([*base, "dataset.in_memory_max=2"]).dataset)
    assert isinstance(held, torch.Tensor) and held.shape[0] == len(streamed) == 5
    assert torch.equal(held, torch.stack([streamed[i] for i in range(5)]))


def test_subset_indices_are_sorted_distinct_and_repeatable():
    assert torch.equal(chosen(100, 10, 0, "x"), chosen(100, 10, 0, "x"))
    assert chosen(100, None, 0, "x") is None
    kept = chosen(100, 10, 0, "x")
    assert torch.equal(kept, kept.sort().values) and kept.unique().numel() == 10


def test_the_start_up_log_counts_the_images_that_train(mnist_root, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="gantrain")
    args = [
        "dataset.limit=32",
        "trainer.rounds=1",
        "trainer.sample_at=[1]",
        "eval.at=[]",
        "objective.critic.width=8",
        "objective.critic.max_width=16",
    ]
    tiny_train(args, tmp_path / "run", mnist_root)
    assert "dataset: 32 images" in caplog.text
