"""Two independent judges: different nets cached under different names that carry their weights'
hash; both read the samples; the flag rises on blended digits and stays down on clear ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from data_files import digit_like, write_mnist_family

from gantrain.commands.evaluate import summary_line
from gantrain.metrics import classifier as clf
from gantrain.metrics.extractors import make_judges
from gantrain.metrics.judges import DISAGREE, MARGINS, disagreements
from gantrain.metrics.scores import Scorer

FAST = clf.ClassifierRecipe(steps=20, batch_size=32)


def mnist_cfg(root: Path) -> dict:
    return {
        "_target_": "gantrain.data.torchvision_sets.load",
        "name": "mnist",
        "root": str(root),
        "download": False,
        "image_size": 28,
        "channels": 1,
    }


def _params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_the_two_judges_are_different_nets_cached_under_their_weights_hash(tmp_path):
    write_mnist_family(tmp_path, "MNIST", n_train=64, n_test=16)
    first, second = make_judges(mnist_cfg(tmp_path), "cpu", FAST)
    assert type(first.net) is not type(second.net) and _params(first.net) != _params(second.net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in second.net.modules())
    assert first.info["recipe"]["seed"] != second.info["recipe"]["seed"]
    assert second.info["recipe"]["rotate"] > 0 == first.info["recipe"]["rotate"]
    files = [Path(first.info["file"]), Path(second.info["file"])]
    assert files[0] != files[1] and all(f.is_file() for f in files)
    for ext, path in zip((first, second), files):
        digest = ext.info["weights_sha256"]
        assert len(digest) == 12 and path.stem.endswith(f"-w{digest}")
        state = torch.load(path, weights_only=True)["state"]
        assert clf.weights_hash(state) == digest
    assert first.info["weights_sha256"] != second.info["weights_sha256"]


def test_a_cache_file_whose_weights_do_not_match_its_name_is_not_used(tmp_path):
    write_mnist_family(tmp_path, "MNIST", n_train=64, n_test=16)
    _, info = clf.load_or_train(mnist_cfg(tmp_path), FAST)
    path = Path(info["file"])
    payload = torch.load(path, weights_only=True)
    payload["state"]["head.bias"] += 1.0  # other weights under the old name
    torch.save(payload, path)
    _, again = clf.load_or_train(mnist_cfg(tmp_path), FAST)
    assert again["trained"]  # retrained (to the same weights: training is seeded)
    state = torch.load(again["file"], weights_only=True)["state"]
    assert Path(again["file"]).stem.endswith(f"-w{clf.weights_hash(state)}")
    assert clf.weights_hash(state) == info["weights_sha256"]


def test_other_weights_from_the_same_data_get_another_name(tmp_path):
    """Two copies of one dataset whose classifiers came out different (as threads can make them)
    never share a file name: the name carries the weights' hash."""
    for copy in ("a", "b"):
        write_mnist_family(tmp_path / copy, "MNIST", n_train=64, n_test=16)
    _, a = clf.load_or_train(mnist_cfg(tmp_path / "a"), FAST)
    _, b = clf.load_or_train(
        mnist_cfg(tmp_path / "b"), clf.ClassifierRecipe(steps=21, batch_size=32)
    )
    assert a["weights_sha256"] != b["weights_sha256"]
    assert Path(a["file"]).name != Path(b["file"]).name


def test_the_margins_flag_what_parts_and_nothing_else():
    close = {
        "modes_kl": 0.02,
        "modes_kl_judge2": 0.03,
        "fid_scaled": 0.020,
        "fid_scaled_judge2": 0.024,
        "judges_agreement": 0.98,
    }
    assert disagreements(close) == []
    kl = {**close, "modes_kl_judge2": 0.02 + MARGINS["modes_kl"] + 0.01}
    assert disagreements(kl) == ["modes_kl"]
    fid = {**close, "fid_scaled": 0.5, "fid_scaled_judge2": 0.8}
    assert disagreements(fid) == ["fid"]
    tiny = {**close, "fid_scaled": 0.001, "fid_scaled_judge2": 0.004}  # 4x, but both near 0
    assert disagreements(tiny) == []
    assert disagreements({**close, "judges_agreement": 0.5}) == ["agreement"]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory) -> Scorer:
    root = tmp_path_factory.mktemp("judges")
    write_mnist_family(root, "MNIST", n_train=512, n_test=200)
    first, second = make_judges(
        mnist_cfg(root), "cpu", clf.ClassifierRecipe(steps=150, batch_size=32)
    )
    reference = torch.from_numpy(digit_like(200, 1)[0])[:, None]  # the test split's images
    return Scorer(first, reference, kid_subsets=2, judge2=second)


def _digits(seed: int, n: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = digit_like(n, seed)
    return torch.from_numpy(images)[:, None], torch.from_numpy(labels)


@pytest.mark.slow
def test_clear_digits_satisfy_both_judges(scorer):
    scores = scorer.score_images(_digits(5)[0])
    assert scores["judges_disagree"] == 0 and scores["judges_agreement"] >= MARGINS["agreement"]
    for suffix in ("", "_judge2"):
        assert scores[f"confidence{suffix}"] > 0.8 and scores[f"real_confidence{suffix}"] > 0.8


@pytest.mark.slow
def test_blended_digits_are_flagged_and_said_so(scorer):
    (a, la), (b, lb) = _digits(5), _digits(6)
    blended = (
        ((a.float() + b.float()) / 2).round().to(torch.uint8)[la != lb]
    )  # half one, half another
    scores = scorer.score_images(blended)
    assert scores["judges_disagree"] == 1 and "agreement" in scores["judges_disagree_on"]
    assert scores["confidence"] < scores["real_confidence"]
    record = {
        **scores,
        "reference": {"num_images": 200, "dataset": "mnist", "split": "test"},
        "extractor": scorer.info["extractor"],
        "judges": scorer.info["judges"],
        "weights": "raw",
        "round": 1,
        "eval_s": 1.0,
    }
    line = summary_line(record)
    assert DISAGREE in line
    for judge in scorer.info["judges"]:
        assert f"judge {judge['weights_sha256']}:" in line
    assert f"FID {scores['fid_judge2']:.3f}" in line


def test_the_report_shows_each_jobs_judges(tmp_path):
    import json

    from gantrain.commands.report import collect

    job = tmp_path / "0"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- seed=0\n")
    (job / "summary.json").write_text(json.dumps({"status": "done", "rounds": 5}))
    judges = [{"weights_sha256": "0123456789ab"}, {"weights_sha256": "ba9876543210"}]
    (job / "eval.json").write_text(json.dumps({"fid": 3.0, "fid_judge2": 4.0, "judges": judges}))
    rows, _ = collect(tmp_path)
    assert rows[0]["judges"] == "0123456789ab ba9876543210" and rows[0]["fid_judge2"] == 4.0
