"""FID/KID through torchmetrics, the cached feature classifier, and the extractor choice."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from data_files import digit_like, write_idx

from gantrain.errors import UserError
from gantrain.metrics import Scorer, make_scorer
from gantrain.metrics import classifier as clf
from gantrain.metrics.data import reference_images
from gantrain.metrics.extractors import default_extractor, make_extractor
from gantrain.metrics.scores import class_stats

FAST = clf.ClassifierRecipe(steps=20, batch_size=32)


def mnist_cfg(root) -> dict:
    return {
        "_target_": "gantrain.data.torchvision_sets.load",
        "name": "mnist",
        "root": str(root),
        "download": False,
        "image_size": 28,
        "channels": 1,
    }


def write_mnist(root, n_train=128, n_test=48, seed=0):
    raw = root / "MNIST" / "raw"
    for prefix, n, s in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = digit_like(n, s)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


class Pooled:
    """A fixed extractor: 4x4 average-pooled pixels (16 features)."""

    name = "pooled"
    info = {"name": "pooled"}

    def __call__(self, images):
        feats = torch.nn.functional.adaptive_avg_pool2d(images.double(), 4).flatten(1)
        return feats, None


def numpy_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(ca @ cb).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * root))


@pytest.fixture(scope="module")
def extractor(mnist_root):
    return make_extractor("classifier", mnist_cfg(mnist_root), "cpu", FAST)


def test_fid_and_kid_near_zero_against_itself_and_large_against_noise(extractor):
    real = torch.from_numpy(digit_like(200, seed=5)[0]).unsqueeze(1)
    noise = torch.randint(0, 256, real.shape, dtype=torch.uint8, generator=torch.Generator())
    scorer = Scorer(extractor, real, kid_subsets=10)
    same, other = scorer.score_images(real), scorer.score_images(noise)
    assert abs(same["fid"]) < 1e-6 * other["fid"] and other["fid"] > 1.0
    assert abs(same["kid"]) < 0.01 * other["kid"] and other["kid"] > 0
    assert same["num_samples"] == 200 and 0 <= same["classes_present"] <= 10


def test_fid_agrees_with_the_closed_form():
    a = torch.from_numpy(digit_like(300, seed=1)[0]).unsqueeze(1)
    b = torch.from_numpy(digit_like(200, seed=2)[0]).unsqueeze(1) // 2
    got = Scorer(Pooled(), a, kid_subsets=5).score_images(b)["fid"]
    want = numpy_fid(Pooled()(a)[0].numpy(), Pooled()(b)[0].numpy())
    assert got == pytest.approx(want, rel=1e-6)


def test_scoring_is_repeatable_and_leaves_the_global_rng_alone(extractor):
    real = torch.from_numpy(digit_like(100, seed=3)[0]).unsqueeze(1)
    fake = torch.from_numpy(digit_like(80, seed=4)[0]).unsqueeze(1)
    scorer = Scorer(extractor, real, kid_subsets=10)
    torch.manual_seed(123)
    first = scorer.score_images(fake)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert scorer.score_images(fake) == first
    assert torch.equal(torch.rand(3), after)


def test_bad_sample_sets_are_refused(extractor):
    real = torch.from_numpy(digit_like(20)[0]).unsqueeze(1)
    scorer = Scorer(extractor, real, kid_subsets=2)
    with pytest.raises(UserError, match="at least 2 samples"):
        scorer.score_images(real[:1])
    with pytest.raises(UserError, match="uint8"):
        scorer.score_images(real.float())


def test_class_histogram_and_coverage():
    probs = torch.zeros(100, 10)
    probs[:60, 3] = 0.9  # 60% class 3 at 0.9
    probs[60:96, 7] = 0.5  # 36% class 7 at 0.5
    probs[96:, 1] = 1.0  # 4% class 1: below the 5% line
    stats = class_stats(probs)
    assert stats["classes_present"] == 2 and stats["num_classes"] == 10
    assert stats["class_histogram"][3] == 0.6 and stats["class_histogram"][1] == 0.04
    assert stats["mean_confidence"] == pytest.approx((60 * 0.9 + 36 * 0.5 + 4) / 100)


@pytest.mark.slow
def test_classifier_cache_is_reused_and_rebuilt_when_data_change(tmp_path):
    root = write_mnist(tmp_path / "data")
    _, first = clf.load_or_train(mnist_cfg(root), FAST)
    path = tmp_path / "data" / ".gantrain"
    files = list(path.glob("classifier-mnist-*.pt"))
    assert first["trained"] and [str(f) for f in files] == [first["file"]]
    stamp = files[0].stat().st_mtime_ns

    _, again = clf.load_or_train(mnist_cfg(root), FAST)
    assert not again["trained"] and again["file"] == first["file"]
    assert files[0].stat().st_mtime_ns == stamp
    assert again["test_accuracy"] == first["test_accuracy"]

    write_mnist(tmp_path / "data", seed=7)  # other images, same file names
    _, rebuilt = clf.load_or_train(mnist_cfg(root), FAST)
    assert rebuilt["trained"] and rebuilt["file"] != first["file"]
    assert [str(f) for f in path.glob("classifier-mnist-*.pt")] == [rebuilt["file"]]


def test_cached_classifier_loads_with_weights_only(extractor):
    payload = torch.load(extractor.info["file"], weights_only=True)
    assert payload["num_classes"] == 10 and 0.0 <= payload["test_accuracy"] <= 1.0


@pytest.mark.slow
def test_classifier_learns_the_digits(tmp_path):
    root = write_mnist(tmp_path / "data", n_train=256, n_test=64)
    _, info = clf.load_or_train(mnist_cfg(root), clf.ClassifierRecipe(steps=80, batch_size=32))
    assert info["test_accuracy"] > 0.8


def test_make_scorer_compares_with_the_test_split(mnist_root, extractor):
    scorer = make_scorer(mnist_cfg(mnist_root), "cpu", "classifier", "test", FAST, kid_subsets=5)
    assert scorer.num_real == 64 and scorer.info["split"] == "test"
    assert scorer.info["extractor"]["test_accuracy"] == extractor.info["test_accuracy"]
    train = reference_images(mnist_cfg(mnist_root), "train", max_images=100)
    assert train.shape == (100, 1, 28, 28)


def test_default_extractor_per_dataset():
    assert default_extractor(mnist_cfg("x")) == "classifier"
    assert default_extractor({"_target_": "gantrain.data.digits.load"}) == "classifier"
    assert default_extractor({**mnist_cfg("x"), "name": "cifar10"}) == "inception"
    assert default_extractor({"_target_": "gantrain.data.image_folder.load"}) == "inception"


def test_classifier_needs_labels():
    with pytest.raises(UserError, match="extractor=inception"):
        make_extractor("classifier", {"_target_": "gantrain.data.image_folder.load", "root": "x"})
