"""dataset=stacked_mnist: RGB images composed from MNIST digits at deterministic index triples."""

from __future__ import annotations

import pytest
import torch

from gantrain.data import make_batches, torchvision_sets
from gantrain.data.stacked import Stacked, load
from gantrain.errors import UserError
from gantrain.metrics.data import describe, reference_images, reference_labels


def digits_of(root, train=True):
    return torchvision_sets.load("mnist", root, 28, 1, False, train, labels=True)


def test_channels_are_the_digits_at_the_triples_and_labels_their_number(mnist_root):
    got = load(mnist_root, size=50, download=False, labels=True)
    digits = digits_of(mnist_root)
    stacked, picks = got.images, got.images.triples
    assert stacked.shape == (50, 3, 28, 28) and len(stacked) == 50 and len(got.classes) == 1000
    images = stacked[torch.arange(50)]
    for c in range(3):
        assert torch.equal(images[:, c], digits.images[picks[:, c], 0])
    d = digits.labels[picks]
    assert torch.equal(got.labels, 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2])
    assert got.classes[got.labels[0]] == "".join(str(int(x)) for x in d[0])


def test_triples_follow_stack_seed_and_limit_keeps_a_subset(mnist_root):
    a = load(mnist_root, size=40, download=False).triples
    assert torch.equal(a, load(mnist_root, size=40, download=False).triples)
    assert not torch.equal(a, load(mnist_root, size=40, stack_seed=1, download=False).triples)
    limited = load(mnist_root, size=40, limit=10, download=False).triples
    assert limited.shape == (10, 3) and all((row == a).all(1).any() for row in limited)
    with pytest.raises(UserError, match="dataset.limit=41"):
        load(mnist_root, size=40, limit=41, download=False)


def test_test_split_stacks_test_digits_with_its_own_seed(mnist_root):
    test = load(mnist_root, size=100, train=False, download=False)
    assert test.digits.shape[0] == 64 and len(test) == 100
    cfg = {
        "_target_": "gantrain.data.stacked.load",
        "root": str(mnist_root),
        "size": 30,
        "download": False,
        "limit": 5,
    }
    ref = reference_images(cfg)  # never limited
    assert ref.shape == (30, 3, 28, 28) and ref.dtype == torch.uint8
    labels = reference_labels(cfg)
    assert labels.shape == (30,) and int(labels.max()) < 1000 and describe(cfg) == "stacked_mnist"


def test_32_px_and_grey_refused(mnist_root):
    assert load(mnist_root, image_size=32, size=4, download=False).shape == (4, 3, 32, 32)
    with pytest.raises(UserError, match="dataset.channels=1"):
        load(mnist_root, channels=1, download=False)


def test_batches_gather_composed_images_without_a_copy(mnist_root):
    got = load(mnist_root, size=64, download=False, labels=True)
    batches = make_batches(got, 16, torch.device("cpu"), seed=0)
    assert isinstance(batches.images, Stacked)  # digits and triples only
    idx = batches.indices()
    images, labels = batches.gather(idx)
    want = got.images[idx].float().div(127.5).sub(1.0)
    assert images.shape == (16, 3, 28, 28) and torch.equal(images, want)
    assert torch.equal(labels, got.labels[idx])
    real, real_labels = batches.fixed(8, torch.Generator().manual_seed(0))
    assert real.shape == (8, 3, 28, 28) and real_labels.shape == (8,)
