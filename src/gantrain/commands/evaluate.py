"""`gantrain-eval`: FID and KID of a trained run, printed and written with their protocol."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from gantrain.cli.arguments import run
from gantrain.cli.runs import load_run
from gantrain.kinds import (
    DeviceKind,
    Flag,
    Integer,
    Overrides,
    PathText,
    PositiveFloat,
    PositiveInt,
)
from gantrain.metrics.classifier import ClassifierRecipe
from gantrain.metrics.judges import MARGINS, judges_line
from gantrain.metrics.modes import SAMPLES, expected_uniform, protocol
from gantrain.metrics.protocol import Extractor, SampleCount, Split
from gantrain.record.run_files import write_json
from gantrain.schema import Schema

log = logging.getLogger("gantrain")


def _out_path(out: str | None, run_dir: str | None, checkpoint: str | None) -> Path:
    if out is not None:
        return Path(out).expanduser()
    if run_dir is not None:
        return Path(run_dir) / "eval.json"
    return Path(str(checkpoint)).with_suffix(".eval.json")


def evaluate_run(
    run_dir: PathText | None = None,
    checkpoint: PathText | None = None,
    num_samples: SampleCount = 1000,
    modes_samples: SampleCount = SAMPLES,
    extractor: Extractor = "auto",
    split: Split = "test",
    ema: Flag = True,
    seed: Integer = 0,
    device: DeviceKind = "auto",
    kid_subsets: PositiveInt = 100,
    inception_weights: PathText | None = None,
    fetch_timeout: PositiveFloat = 30.0,
    classifier: ClassifierRecipe | None = None,
    out: PathText | None = None,
    dataset: Overrides | None = None,
) -> dict:
    """Score a run's checkpoint as conf/eval.yaml describes each key; returns the eval.json
    record (out: where main writes it)."""
    from gantrain.hardware.device import resolve_device
    from gantrain.metrics import make_scorer

    t0 = time.perf_counter()
    n, subsets = num_samples, kid_subsets
    where = resolve_device(device)
    run = load_run(run_dir, checkpoint, ema, dataset or {}, where)
    scorer = make_scorer(
        run.data(),
        where,
        extractor,
        split,
        classifier or ClassifierRecipe(),
        inception_weights,
        subsets,
        labels=run.model.num_classes > 0,
        fetch_timeout=fetch_timeout,
    )
    scores = scorer.score_model(run.model, n, seed, modes_samples)
    info = {k: v for k, v in scorer.info["extractor"].items() if k != "trained"}
    if "modes" in scores:
        scores["modes_protocol"] = protocol(scores["modes_samples"], info)
    if "judges" in scorer.info:
        scores["judges"] = [
            {k: v for k, v in j.items() if k != "trained"} for j in scorer.info["judges"]
        ]
        scores["judges_margins"] = dict(MARGINS)
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
        "device": str(where),
        "eval_s": round(time.perf_counter() - t0, 2),
    }


def summary_line(r: dict) -> str:
    ext = r["extractor"]
    line = f"FID {r['fid']:.3f}  KID {r['kid']:.4g} ± {r['kid_std']:.2g}"
    line += "  " + "  ".join(
        f"{k} {r[k]:.3f}" for k in ("precision", "recall", "density", "coverage")
    )
    if "classes_present" in r:
        line += (
            f"  classes {r['classes_present']}/{r['num_classes']} (>= 5% of samples each)"
            f"  mean confidence {r['mean_confidence']:.3f}"
        )
    if "modes" in r:
        m = r["modes_samples"]
        line += (
            f"\n  modes {r['modes']}/1000  KL {r['modes_kl']:.4f} nats (Stacked MNIST, {m:,} "
            f"samples, each channel read by the MNIST classifier; a uniform sampler covers "
            f"{expected_uniform(m):.0f} on average)"
        )
    if "judges_agreement" in r:
        line += judges_line(r)
    if "label_accuracy" in r:
        line += f"\n  label accuracy {100 * r['label_accuracy']:.2f}% (samples read as their class)"
    if "intra_fid" in r:
        line += f"  intra-FID {r['intra_fid']:.3f} (mean per-class FID)"
    ref = r["reference"]
    line += (
        f"\n  {r['num_samples']} samples ({r['weights']} weights, round {r['round']}) vs "
        f"{ref['num_images']} {ref['dataset']} {ref['split']} images, {ext['name']} features"
    )
    if "test_accuracy" in ext:
        line += f" ({100 * ext['test_accuracy']:.2f}% held-out accuracy)"
    if "weights_sha256" in ext:
        line += f", weights {ext['weights_sha256']}"
    return line + f"; {r['eval_s']:.1f} s"


def schema() -> Schema:
    """gantrain-eval's keys are evaluate_run()'s parameters; classifier.* are a ClassifierRecipe's."""
    return Schema({"": (evaluate_run,), "classifier": (ClassifierRecipe,)})


def evaluate_and_write(keys: dict) -> str:
    """Score as the keys say, write eval.json (or out=); the lines to print."""
    keys["classifier"] = ClassifierRecipe(**keys["classifier"])
    record = evaluate_run(**keys)
    out = _out_path(keys["out"], keys["run_dir"], keys["checkpoint"])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    return f"{summary_line(record)}\nwrote {out}"


def main() -> None:
    run("eval", schema(), evaluate_and_write)


if __name__ == "__main__":
    main()
