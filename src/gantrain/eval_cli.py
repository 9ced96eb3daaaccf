"""`gantrain-eval`: FID and KID of a trained run, printed and written with their protocol."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from gantrain.errors import UserError, report
from gantrain.sample_cli import check, load_run, parse_args, run_help

log = logging.getLogger("gantrain")
EXTRACTOR_CHOICES = ("auto", "classifier", "inception")


def _out_path(cfg: DictConfig) -> Path:
    if cfg.out is not None:
        return Path(str(cfg.out)).expanduser()
    if cfg.run_dir is not None:
        return Path(str(cfg.run_dir)) / "eval.json"
    return Path(str(cfg.checkpoint)).with_suffix(".eval.json")


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def evaluate_run(cfg: DictConfig) -> dict:
    """Score a run's checkpoint as cfg (conf/eval.yaml) says; returns the eval.json record."""
    from gantrain.device import resolve_device
    from gantrain.metrics import make_scorer
    from gantrain.metrics.classifier import Recipe

    t0 = time.perf_counter()
    n, seed = check(cfg, "num_samples", "pos_int"), check(cfg, "seed", "int")
    if n < 2:
        raise UserError(f"num_samples={n} is too few: FID and KID need at least 2 samples")
    split = check(cfg, "split", "choice", ("test", "train"))
    extractor = check(cfg, "extractor", "choice", EXTRACTOR_CHOICES)
    subsets = check(cfg, "kid_subsets", "pos_int")
    recipe = Recipe(
        steps=check(cfg, "classifier.steps", "pos_int"),
        batch_size=check(cfg, "classifier.batch_size", "pos_int"),
    )
    inception = check(cfg, "inception_weights", "path")
    device = resolve_device(str(cfg.device))
    run = load_run(cfg, device)
    scorer = make_scorer(run.dataset, device, extractor, split, recipe, inception, subsets)
    scores = scorer.score_model(run.model, n, seed)
    info = {k: v for k, v in scorer.info["extractor"].items() if k != "trained"}
    return {
        **scores,
        "reference": {
            "dataset": scorer.info["dataset"],
            "split": split,
            "num_images": scorer.num_real,
        },
        "extractor": info,
        "kid_subsets": subsets,
        "kid_subset_size": min(scorer.kid_subset_size, scorer.num_real, n),
        "checkpoint": str(run.checkpoint),
        "round": run.payload.get("round"),
        "weights": run.weights,
        "seed": seed,
        "device": str(device),
        "eval_s": round(time.perf_counter() - t0, 2),
    }


def summary_line(r: dict) -> str:
    ext = r["extractor"]
    line = f"FID {r['fid']:.3f}  KID {r['kid']:.4g} ± {r['kid_std']:.2g}"
    if "classes_present" in r:
        line += (
            f"  classes {r['classes_present']}/{r['num_classes']} (>= 5% of samples each)"
            f"  mean confidence {r['mean_confidence']:.3f}"
        )
    ref = r["reference"]
    line += (
        f"\n  {r['num_samples']} samples ({r['weights']} weights, round {r['round']}) vs "
        f"{ref['num_images']} {ref['dataset']} {ref['split']} images, {ext['name']} features"
    )
    if "test_accuracy" in ext:
        line += f" ({100 * ext['test_accuracy']:.2f}% held-out accuracy)"
    return line + f"; {r['eval_s']:.1f} s"


def main() -> None:
    args = sys.argv[1:]
    if run_help(args, "eval"):
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = parse_args(args, "eval")
        record = evaluate_run(cfg)
        out = _out_path(cfg)
        write_json(out, record)
    except UserError as err:
        report(err, prog="gantrain-eval")
        sys.exit(2)
    print(summary_line(record))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
