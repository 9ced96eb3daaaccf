"""Stacked MNIST mode coverage of gantrain's recipes, one run after another: each trained with
gantrain for the same wall-clock time (trainer.time_limit) or the same rounds, then scored by
gantrain-eval (modes and KL from --modes-samples samples, FID from the first 1,000). One run at
a time; the load average before and after each run is recorded beside its numbers.

With --time-limit, every run also keeps a checkpoint at each multiple of --every rounds; once
all have trained, each is scored again at the largest such round that every run reached: the
equal-rounds comparison from the same runs.

    python benchmarks/stacked_mnist.py --root ROOT --time-limit 4m
    python benchmarks/stacked_mnist.py --root ROOT --rounds 1000 --only dcgan,pack2

Writes OUT/results.json (one row per run, with the commands) and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import cpu_model, write_json

# name -> gantrain overrides; every run adds dataset=stacked_mnist and the root
CONFIGS = {
    "dcgan": [],
    "hinge": ["objective.loss.kind=hinge"],
    "wgan_gp": [
        "objective.loss.kind=wasserstein",
        "objective.penalties.gradient=10",
        "objective.critic_steps=2",
        "objective.loss.real_label=1.0",
        "objective.critic.norm=layer",
        "objective.optimizer.betas=[0.0,0.9]",
        "objective.critic_optimizer.betas=[0.0,0.9]",
    ],
    "r1": ["objective.penalties.r1=1.0", "objective.loss.real_label=1.0"],
    "pack2": ["objective.critic.packing=2"],
    "mbstd": ["objective.critic.mbstd=true"],
    "ada": ["objective.augment.kind=ada"],
    "wgan_gp_pack2": ["objective.critic.packing=2"],  # WGAN-GP's overrides are added below
    "preset": ["experiment=stacked_mnist"],
    "wgan_gp_preset": ["experiment=wgan_gp_stacked_mnist"],
    "vae": ["model=vae", "objective=mle"],
}
CONFIGS["wgan_gp_pack2"] = [*CONFIGS["wgan_gp"], *CONFIGS["wgan_gp_pack2"]]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="dataset.root (MNIST/raw/*-ubyte)")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--time-limit", help="trainer.time_limit of every run, e.g. 4m")
    budget.add_argument("--rounds", type=int, help="trainer.rounds of every run")
    p.add_argument("--only", help="comma list of CONFIGS names (default: all, in order)")
    p.add_argument("--modes-samples", type=int, default=26000)
    p.add_argument("--every", type=int, default=50, help="checkpoint rounds (with --time-limit)")
    # one thread: on a shared 2-core machine two threads wait on each other (measured 4x slower
    # for the classifier at a load average of 10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", help="default outputs/benchmarks/stacked-<date>_<time>")
    return p.parse_args(argv)


def commands(name: str, args: argparse.Namespace, run: Path) -> tuple[list[str], list[str]]:
    """The gantrain and gantrain-eval command lines of one run."""
    budget = (
        f"trainer.time_limit={args.time_limit}"
        if args.time_limit
        else f"trainer.rounds={args.rounds}"
    )
    # a time-limited run gets rounds it cannot reach, so that only its clock stops it
    rounds = []
    if args.time_limit:
        marks = ",".join(str(r) for r in range(args.every, 100 * args.every + 1, args.every))
        rounds = [
            "trainer.rounds=1000000",
            f"trainer.sample_at=[{marks}]",
            "trainer.keep_checkpoints=1000",
        ]
    train = [
        "gantrain",
        "dataset=stacked_mnist",
        *CONFIGS[name],
        f"dataset.root={args.root}",
        "device=cpu",
        f"seed={args.seed}",
        budget,
        *rounds,
        "eval.at=[]",
        "trainer.progress=false",
        f"hydra.run.dir={run}",
    ]
    evaluate = [
        "gantrain-eval",
        f"run_dir={run}",
        f"modes_samples={args.modes_samples}",
        "num_samples=1000",
        "device=cpu",
    ]
    return train, evaluate


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run_one(name: str, args: argparse.Namespace, out: Path, env: dict) -> dict:
    run = out / name
    train, evaluate = commands(name, args, run)
    row = {
        "name": name,
        "train": " ".join(train),
        "eval": " ".join(evaluate),
        "load_before": load_average(),
    }
    t0 = time.perf_counter()
    done = subprocess.run(train, env=env, capture_output=True, text=True)
    row["train_s"] = round(time.perf_counter() - t0, 1)
    row["load_after_train"] = load_average()
    summary = (
        json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    )
    row.update(
        status=summary.get("status"),
        rounds=summary.get("rounds"),
        rounds_per_s=summary.get("rounds_per_s"),
    )
    if done.returncode not in (0,) or not summary:
        row["error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
        return row
    t0 = time.perf_counter()
    scored = subprocess.run(evaluate, env=env, capture_output=True, text=True)
    row["eval_s"] = round(time.perf_counter() - t0, 1)
    if scored.returncode:
        row["error"] = (scored.stderr.strip().splitlines() or ["?"])[-1]
        return row
    record = json.loads((run / "eval.json").read_text())
    row.update(
        {
            k: record.get(k)
            for k in (
                "modes",
                "modes_kl",
                "modes_samples",
                "fid",
                "precision",
                "recall",
                "num_samples",
            )
        }
    )
    row["classifier_test_accuracy"] = record["extractor"].get("test_accuracy")
    return row


def score_at(row: dict, rnd: int, args: argparse.Namespace, out: Path, env: dict) -> None:
    """Score the run's checkpoint of round rnd into row["at_round"]."""
    run = out / row["name"]
    ckpt = run / "checkpoints" / f"round_{rnd:06d}.pt"
    cmd = [
        "gantrain-eval",
        f"checkpoint={ckpt}",
        f"modes_samples={args.modes_samples}",
        "num_samples=1000",
        "device=cpu",
        f"out={run / f'eval_round_{rnd}.json'}",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        row["at_round"] = {"round": rnd, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        return
    record = json.loads((run / f"eval_round_{rnd}.json").read_text())
    row["at_round"] = {
        "round": rnd,
        "eval": " ".join(cmd),
        **{k: record.get(k) for k in ("modes", "modes_kl", "fid")},
    }


def equal_rounds_table(rows: list[dict]) -> str:
    lines = ["| config | round | modes (of 1000) | KL (nats) | FID |", "|---|---|---|---|---|"]
    for r in rows:
        a = r.get("at_round") or {}
        kl, fid = a.get("modes_kl"), a.get("fid")
        lines.append(
            f"| {r['name']} | {a.get('round')} | {a.get('modes', a.get('error'))} | "
            f"{'-' if kl is None else f'{kl:.3f}'} | "
            f"{'-' if fid is None else f'{fid:.2f}'} |"
        )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    head = (
        "| config | status | rounds | train s | modes (of 1000) | KL (nats) | FID | "
        "load avg before/after |"
    )
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        kl = r.get("modes_kl")
        fid = r.get("fid")
        lines.append(
            f"| {r['name']} | {r.get('status')} | {r.get('rounds')} | {r.get('train_s')} | "
            f"{r.get('modes', r.get('error', '-'))} | {'-' if kl is None else f'{kl:.3f}'} | "
            f"{'-' if fid is None else f'{fid:.2f}'} | "
            f"{r['load_before']} / {r.get('load_after_train')} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    names = args.only.split(",") if args.only else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        sys.exit(f"unknown configs {unknown}; choose from {', '.join(CONFIGS)}")
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    out = Path(args.out_dir or f"outputs/benchmarks/stacked-{stamp}").resolve()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    record = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "budget": args.time_limit or f"{args.rounds} rounds",
        "rows": [],
    }
    for name in names:
        record["rows"].append(run_one(name, args, out, env))
        write_json(out / "results.json", record)  # after every run: a stopped sweep keeps its rows
        print(table(record["rows"][-1:]).splitlines()[-1], flush=True)
    print(table(record["rows"]))
    reached = [r["rounds"] for r in record["rows"] if r.get("rounds")]
    if args.time_limit and reached and min(reached) >= args.every:
        rnd = min(reached) // args.every * args.every
        for row in record["rows"]:
            if row.get("rounds"):
                score_at(row, rnd, args, out, env)
                write_json(out / "results.json", record)
        print(equal_rounds_table(record["rows"]))


if __name__ == "__main__":
    main()
