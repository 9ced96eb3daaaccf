"""Compare training recipes by FID: each recipe is a set of gantrain overrides, trained for every
seed with the same rounds and scored in training (eval.at=[rounds]: classifier features, the
eval block's sample count, against the test split). Several runs go at once (--jobs), each its
own process; a table of FID per seed, their mean, KID and the classes present is printed and
written beside the runs.

    python benchmarks/recipes.py --root ROOT --device cuda --jobs 4 --seeds 0,1 \\
        "" "objective.loss.kind=hinge" "objective.critic.norm=spectral objective.loss.kind=hinge"

The empty recipe "" is gantrain's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="dataset.root (MNIST/raw/*-ubyte)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--seeds", default="0", help="comma list of training seeds")
    p.add_argument("--jobs", type=int, default=1, help="runs at once")
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads per run (default: cores / jobs)"
    )
    p.add_argument("--out-dir", help="default outputs/benchmarks/recipes-<date>_<time>")
    p.add_argument("recipes", nargs="+", help='each a quoted override list; "" = defaults')
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    stamp = time.strftime("%Y-%m-%d_%H%M")
    args.out_dir = Path(args.out_dir or HERE.parent / "outputs" / "benchmarks" / f"recipes-{stamp}")
    return args


def train(args, k: int, recipe: str, seed: int) -> dict:
    run_dir = args.out_dir / f"{k:02d}-seed{seed}"
    n = args.rounds
    cmd = [
        sys.executable,
        "-m",
        "gantrain",
        f"dataset.root={args.root}",
        f"device={args.device}",
        f"trainer.rounds={n}",
        f"trainer.sample_at=[{n}]",
        f"eval.at=[{n}]",
        f"seed={seed}",
        f"hydra.run.dir={run_dir}",
        *recipe.split(),
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / f"{k:02d}-seed{seed}.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    summary = {}
    if (run_dir / "summary.json").is_file():
        summary = json.loads((run_dir / "summary.json").read_text())
    final = summary.get("final", {})
    rec = {
        "recipe": recipe or "(defaults)",
        "seed": seed,
        "exit": rc,
        "fid": final.get("fid"),
        "kid": final.get("kid"),
        "classes_present": final.get("classes_present"),
        "rounds_per_s": summary.get("rounds_per_s"),
    }
    print(
        f"  [{k}] seed {seed}: FID {rec['fid']} classes {rec['classes_present']} "
        f"exit {rc}  {rec['recipe']}",
        flush=True,
    )
    return rec


def table(recipes: list[str], runs: list[dict]) -> str:
    lines = [
        "| recipe | FID per seed | mean FID | mean KID | classes present | rounds/s |",
        "|---|---|---:|---:|---|---:|",
    ]
    for recipe in recipes:
        mine = [r for r in runs if r["recipe"] == (recipe or "(defaults)")]
        fids = [r["fid"] for r in mine if r["fid"] is not None]
        kids = [r["kid"] for r in mine if r["kid"] is not None]
        rps = [r["rounds_per_s"] for r in mine if r["rounds_per_s"]]
        lines.append(
            f"| {recipe or '(defaults)'} | {', '.join(f'{f:.1f}' for f in fids) or 'failed'} | "
            + (f"{statistics.mean(fids):.2f}" if fids else "-")
            + " | "
            + (f"{statistics.mean(kids):.4f}" if kids else "-")
            + " | "
            + ", ".join(str(r["classes_present"]) for r in mine)
            + " | "
            + (f"{statistics.mean(rps):.1f}" if rps else "-")
            + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    jobs = [(k, r, s) for k, r in enumerate(args.recipes) for s in args.seeds]
    print(
        f"{len(jobs)} runs, {args.jobs} at a time, {args.threads} threads each, "
        f"{args.rounds} rounds on {args.device}; runs in {args.out_dir}",
        flush=True,
    )
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda j: train(args, *j), jobs))
    text = table(args.recipes, runs)
    text += f"\n\n- {args.rounds} rounds on {args.device}; seeds {args.seeds}; command: "
    text += f"`python benchmarks/recipes.py {' '.join(repr(a) if ' ' in a or not a else a for a in sys.argv[1:])}`\n"
    print("\n" + text)
    (args.out_dir / "recipes.md").write_text(text)
    (args.out_dir / "recipes.json").write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
