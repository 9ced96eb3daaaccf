"""How often the feature classifier reads a conditional run's samples as the class they were
drawn for, class by class: the check behind `gantrain-sample class=K`.

    python benchmarks/class_accuracy.py RUN [--num 200] [--root DATASET_ROOT]

draws --num samples of every class with gantrain-sample's own code path (EMA weights where
the run has them, seed 0) and prints the share the classifier (the one FID uses, cached beside
the data) assigns to each class.
"""

from __future__ import annotations

import argparse

import torch

from gantrain.cli.runs import load_run
from gantrain.commands.sample import class_labels
from gantrain.metrics.classifier import ClassifierRecipe
from gantrain.metrics.drawing import sample_uint8
from gantrain.metrics.extractors import make_extractor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--root", default=None, help="the dataset's root, if it moved")
    args = parser.parse_args()
    overrides = {"root": args.root} if args.root else {}
    run = load_run(args.run, None, True, overrides, torch.device("cpu"))
    extractor = make_extractor("classifier", run.dataset, "cpu", ClassifierRecipe())
    names = run.payload.get("classes") or [str(k) for k in range(run.model.num_classes)]
    hits = []
    for k, name in enumerate(names):
        labels = class_labels(run, k, args.num)
        _, probs = extractor(sample_uint8(run.model, args.num, seed=0, labels=labels))
        share = float((probs.argmax(1) == k).double().mean())
        hits.append(share)
        print(f"class {k} ({name}): {100 * share:.1f}% of {args.num} read as {k}")
    print(
        f"mean over classes: {100 * sum(hits) / len(hits):.1f}% ({run.weights} weights, "
        f"round {run.payload.get('round')})"
    )


if __name__ == "__main__":
    main()
