"""EMA schedules compared on one training run: the generator trains once (gantrain's default
recipe, the same steps the trainer takes) while several averages of it follow, each scored at
the same rounds with the in-training protocol (classifier features, fixed noise, test split).

    python benchmarks/ema_warmup.py --root ROOT --rounds 1000 --at 100,200,500,1000

Schedules: raw (no average), fixed (decay 0.99 from round 1), warmup (TensorFlow's num_updates:
min(0.99, (1 + t) / (10 + t))), start50 (the raw weights up to round 50, then decay 0.99).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="dataset.root (MNIST/raw/*-ubyte)")
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--at", default="100,200,500,1000", help="rounds to score at")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="outputs/benchmarks/ema_warmup.json")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from gantrain.config import build, conf_dir
    from gantrain.data import make_batches
    from gantrain.hardware.accel import Accelerator
    from gantrain.metrics import make_scorer
    from gantrain.metrics.classifier import ClassifierRecipe
    from gantrain.training.ema import EMA
    from gantrain.training.rng import seed_everything

    overrides = [f"dataset.root={args.root}", "device=cpu"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    device = torch.device("cpu")
    seed_everything(cfg.seed)  # as the trainer does: the same raw weights as `gantrain`
    accel = Accelerator.from_config(device, cfg.device, False)
    model, objective = build(cfg.model), build(cfg.objective)
    accel.prepare(model)
    objective.bind(model, accel)
    batches = make_batches(build(cfg.dataset), cfg.trainer.batch_size, device, cfg.seed)
    ev = OmegaConf.to_container(cfg.eval, resolve=True)
    scorer = make_scorer(
        cfg.dataset,
        device,
        ev["extractor"],
        ev["split"],
        ClassifierRecipe(**ev["classifier"]),
        kid_subsets=ev["kid_subsets"],
    )
    decay = cfg.trainer.ema_decay
    averages = {"fixed": EMA(model, decay, warmup=False), "warmup": EMA(model, decay)}
    start50 = EMA(model, decay, warmup=False)
    at = {int(r) for r in args.at.split(",")}
    results, t0 = [], time.perf_counter()
    model.train()
    for rnd in range(1, args.rounds + 1):
        objective.run_round(model, batches)
        for ema in averages.values():
            ema.update(model)
        start50.decay = 0.0 if rnd <= 50 else decay  # follows the raw weights up to round 50
        start50.update(model)
        if rnd in at:
            model.eval()  # as gantrain-eval scores the raw weights
            shown = {
                "raw": model,
                **{k: e.model for k, e in averages.items()},
                "start50": start50.model,
            }
            for name, net in shown.items():
                s = scorer.score_model(net, ev["num_samples"], ev["seed"])
                row = {
                    "round": rnd,
                    "weights": name,
                    **{
                        k: s[k]
                        for k in (
                            "fid",
                            "kid",
                            "precision",
                            "recall",
                            "coverage",
                            "classes_present",
                        )
                    },
                }
                results.append(row)
                print(json.dumps(row), flush=True)
            model.train()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "overrides": overrides,
                "rounds": args.rounds,
                "results": results,
                "wall_s": round(time.perf_counter() - t0, 1),
            },
            indent=1,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
