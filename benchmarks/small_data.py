"""Augmentation on little data, under both judges and several seeds: trains the default DCGAN on
`dataset.limit` digits with each `objective.augment` kind and seed, one run after another, scores
each last checkpoint with `gantrain-eval` (FID, classes present, per-judge confidence), and prints
mean +- sd per (limit, augment) cell. Runs already scored are read, not retrained.

    OMP_NUM_THREADS=2 python benchmarks/small_data.py --out /tmp/small --rounds 2000 \
        -- dataset.root=../shared/data/mnist-subset

Writes OUT/small-data.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

from common import cpu_model
from time_to_quality import script

KEYS = ("fid", "fid_judge2", "classes_present", "confidence", "confidence_judge2")


def run_one(run: Path, limit: int, augment: str, seed: int, rounds: int, extra: list[str]) -> dict:
    scored = run / "eval.json"
    if not scored.is_file():
        subprocess.run(
            [
                script("gantrain"),
                *extra,
                f"dataset.limit={limit}",
                f"objective.augment={augment}",
                f"seed={seed}",
                f"trainer.rounds={rounds}",
                f"trainer.sample_at=[{rounds // 2},{rounds}]",
                "eval.at=[]",
                "device=cpu",
                f"hydra.run.dir={run}",
            ],
            check=True,
        )
        subprocess.run(
            [script("gantrain-eval"), f"run_dir={run}", "device=cpu", f"out={scored}"], check=True
        )
    return json.loads(scored.read_text())


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--limits", type=int, nargs="+", default=[100, 500])
    ap.add_argument("--augments", nargs="+", default=["none", "diffaug", "ada"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    cells = {}
    for limit in a.limits:
        for seed in a.seeds:
            for augment in a.augments:
                run = Path(a.out) / f"small_l{limit}_{augment}_s{seed}"
                got = run_one(run, limit, augment, seed, a.rounds, a.overrides)
                cells.setdefault((limit, augment), []).append({k: got.get(k) for k in KEYS})
    record = {
        "rounds": a.rounds,
        "overrides": a.overrides,
        "cpu": cpu_model(),
        "cells": [
            {"limit": lim, "augment": aug, "runs": runs} for (lim, aug), runs in cells.items()
        ],
    }
    (Path(a.out) / "small-data.json").write_text(json.dumps(record, indent=1))
    print("| limit | augment | FID judge 1 | FID judge 2 | classes | confidence 1 / 2 |")
    print("|---:|---|---:|---:|---:|---|")
    for (limit, augment), runs in cells.items():
        col = {k: [r[k] for r in runs] for k in KEYS}
        print(
            f"| {limit} | {augment} | {mean_sd(col['fid'])} | {mean_sd(col['fid_judge2'])} "
            f"| {'/'.join(str(c) for c in col['classes_present'])} "
            f"| {statistics.mean(col['confidence']):.3f} / "
            f"{statistics.mean(col['confidence_judge2']):.3f} |"
        )


if __name__ == "__main__":
    main()
