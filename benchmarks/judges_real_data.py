"""Both judges on real data: what a perfect generator would score. Trains (or loads from the cache
beside ROOT) the two classifiers of gantrain's evaluation with the default recipe, then scores
real images as if they were samples:

- Stacked MNIST: --samples (default 26,000) triples of held-out MNIST test digits, stacked as
  R, G and B, against the stacked test split: modes, KL, per-channel confidence under each judge;
- MNIST: the training digits against the test digits: FID under each, the confidence on real
  digits, and whether the disagreement flag stays down.

    OMP_NUM_THREADS=2 python benchmarks/judges_real_data.py --root ../shared/data/mnist-subset

Prints one JSON object (and writes it to --out).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import cpu_model

KEYS = (
    "fid",
    "fid_judge2",
    "fid_scaled",
    "fid_scaled_judge2",
    "modes",
    "modes_kl",
    "modes_judge2",
    "modes_kl_judge2",
    "confidence",
    "confidence_judge2",
    "real_confidence",
    "real_confidence_judge2",
    "judges_agreement",
    "judges_disagree",
    "judges_disagree_on",
)


def _cfg(root: str, stacked: bool) -> dict:
    if stacked:
        return {
            "_target_": "gantrain.data.stacked.load",
            "root": root,
            "download": False,
            "image_size": 28,
            "channels": 3,
            "size": 10000,
            "stack_seed": 0,
        }
    return {
        "_target_": "gantrain.data.torchvision_sets.load",
        "name": "mnist",
        "root": root,
        "download": False,
        "image_size": 28,
        "channels": 1,
    }


def _judges(scorer) -> list[dict]:
    return [
        {k: j[k] for k in ("file", "weights_sha256", "test_accuracy")}
        for j in scorer.info["judges"]
    ]


def stacked(root: str, samples: int) -> dict:
    import torch

    from gantrain.metrics import make_scorer
    from gantrain.metrics.data import digit_config, labelled_split

    cfg = _cfg(root, stacked=True)
    scorer = make_scorer(cfg, "cpu", kid_subsets=10)
    digits, _ = labelled_split(digit_config(cfg), train=False)  # (10000, 1, 28, 28)
    g = torch.Generator().manual_seed(1)
    pick = torch.randint(0, digits.shape[0], (samples, 3), generator=g)
    images = digits[pick][:, :, 0]  # (samples, 3, 28, 28)
    scores = scorer.score_images(images, first=1000)
    return {"judges": _judges(scorer), **{k: scores[k] for k in KEYS if k in scores}}


def mnist(root: str) -> dict:
    from gantrain.metrics import make_scorer
    from gantrain.metrics.data import reference_images

    cfg = _cfg(root, stacked=False)
    scorer = make_scorer(cfg, "cpu", kid_subsets=10)
    scores = scorer.score_images(reference_images(cfg, "train"))
    return {"judges": _judges(scorer), **{k: scores[k] for k in KEYS if k in scores}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--samples", type=int, default=26000)
    parser.add_argument("--out", default="benchmarks/results/judges_real_data.json")
    args = parser.parse_args()
    t0 = time.perf_counter()
    record = {
        "machine": cpu_model(),
        "root": args.root,
        "stacked_mnist": stacked(args.root, args.samples),
        "mnist": mnist(args.root),
    }
    record["seconds"] = round(time.perf_counter() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
