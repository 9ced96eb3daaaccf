r"""Issue 5's quality comparison: the classic recipe vs gantrain's default, same rounds, same seed,
scored by one protocol.

  (a) benchmarks/classic_dcgan.py --rounds R --out-samples classic.npz  (train-mode G, as
      pytorch/examples draws its fakes; --classic-eval-mode for G.eval())
  (b) gantrain dataset.root=ROOT device=cpu trainer.rounds=R seed=S [overrides], then
      gantrain-sample run_dir=RUN num_samples=N out=gantrain.npz (EMA weights when the run has them)

Both sample sets (N = 1000 uint8 images from the same fixed noise) go through the same
scorer.score_images: gantrain's classifier features, FID and KID against the 10,000 test digits,
and the predicted-class histogram (a class is present at >= 5% of samples).

    python benchmarks/quality.py --root ROOT                          # 2000 rounds each
    python benchmarks/quality.py --root ROOT trainer.ema_decay=0.999  # a gantrain override
    python benchmarks/quality.py --root ROOT --skip-train-classic --classic-samples c.npz \
        --gantrain-run outputs/2024-01-01/12-00-00
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common

HERE = Path(__file__).resolve().parent


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="holds MNIST/raw/*-ubyte (torchvision layout)")
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0, help="training seed of both")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="default: all cores")
    p.add_argument("--num-samples", type=int, default=1000)
    p.add_argument("--device", default="cpu", help="trains and samples both here (cpu, cuda)")
    p.add_argument("--sample-seed", type=int, default=0, help="the fixed noise both sample from")
    p.add_argument(
        "--work-dir",
        default=None,
        help="samples, logs, gantrain run (default: "
        "outputs/benchmarks/quality-<date>/, git-ignored)",
    )
    p.add_argument("--classic-samples", help="the classic .npz (default WORK/classic.npz)")
    p.add_argument(
        "--skip-train-classic",
        action="store_true",
        help="reuse --classic-samples instead of training the classic loop",
    )
    p.add_argument("--classic-eval-mode", action="store_true", help="sample classic G in eval()")
    p.add_argument("--gantrain-run", help="reuse this finished gantrain run directory")
    p.add_argument(
        "--out", help="Markdown report (default results/quality-<date>.md; .json beside)"
    )
    p.add_argument("overrides", nargs="*", help="gantrain KEY=VALUE overrides")
    args = p.parse_args(argv)
    stamp = time.strftime("%Y-%m-%d_%H%M")
    args.work_dir = Path(
        args.work_dir or HERE.parent / "outputs" / "benchmarks" / f"quality-{stamp}"
    )
    args.out = Path(args.out or HERE / "results" / f"quality-{stamp}.md")
    args.classic_samples = Path(args.classic_samples or args.work_dir / "classic.npz")
    if args.skip_train_classic and not args.classic_samples.is_file():
        p.error(f"--skip-train-classic: no samples at {args.classic_samples}")
    return args


def run(cmd: list[str], log_path: Path, threads: int) -> float:
    """Runs cmd to completion (output to log_path); returns the tree's peak RSS in MB."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print("$ " + " ".join(cmd), flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        with common.PeakRSS(proc.pid) as rss:
            rc = proc.wait()
    if rc != 0:
        sys.exit(f"failed (exit {rc}); the end of {log_path}:\n{log_path.read_text()[-3000:]}")
    return rss.peak_mb


def train_classic(args) -> dict:
    """Trains and samples the classic loop (or reuses its samples); returns its timing."""
    timing = args.classic_samples.with_suffix(".time.json")
    if not args.skip_train_classic:
        cmd = [
            sys.executable,
            str(HERE / "classic_dcgan.py"),
            "--root",
            args.root,
            "--rounds",
            str(args.rounds),
            "--seed",
            str(args.seed),
            "--threads",
            str(args.threads),
            "--no-rss",
            "--out-samples",
            str(args.classic_samples),
            "--num-samples",
            str(args.num_samples),
            "--sample-seed",
            str(args.sample_seed),
            "--device",
            args.device,
            "--time-json",
            str(timing),
        ]
        cmd += ["--eval-mode"] if args.classic_eval_mode else []
        peak = run(cmd, args.work_dir / "classic.log", args.threads)
        common.write_json(timing, {**json.loads(timing.read_text()), "peak_rss_mb": peak})
    rec = json.loads(timing.read_text()) if timing.is_file() else {}
    mode = "eval" if args.classic_eval_mode else "train"
    return {
        "rounds_per_s": rec.get("rounds_per_s"),
        "peak_rss_mb": rec.get("peak_rss_mb"),
        "samples": str(args.classic_samples),
        "weights": f"raw, G in {mode} mode",
    }


def train_gantrain(args) -> dict:
    """Trains gantrain's default (or reuses --gantrain-run); samples it with gantrain-sample."""
    from omegaconf import OmegaConf

    peak = None
    run_dir = Path(args.gantrain_run or args.work_dir / "gantrain-run")
    if not args.gantrain_run:
        cmd = [
            sys.executable,
            "-m",
            "gantrain",
            f"dataset.root={args.root}",
            f"device={args.device}",
            f"trainer.rounds={args.rounds}",
            f"seed={args.seed}",
            f"hydra.run.dir={run_dir}",
            *args.overrides,
        ]
        peak = run(cmd, args.work_dir / "gantrain.log", args.threads)
    samples = args.work_dir / "gantrain.npz"
    cmd = [
        sys.executable,
        "-m",
        "gantrain.commands.sample",
        f"run_dir={run_dir}",
        f"device={args.device}",
        f"num_samples={args.num_samples}",
        f"seed={args.sample_seed}",
        f"out={samples}",
    ]
    run(cmd, args.work_dir / "gantrain-sample.log", args.threads)
    summary = json.loads((run_dir / "summary.json").read_text())
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    ema = OmegaConf.select(cfg, "trainer.ema_decay") is not None
    return {
        "rounds_per_s": summary.get("rounds_per_s"),
        "peak_rss_mb": peak,
        "samples": str(samples),
        "run_dir": str(run_dir),
        "weights": "EMA" if ema else "raw",
    }


def score(args, paths: dict[str, str]) -> dict[str, dict]:
    """The same scorer for every sample set: classifier features vs the test split."""
    import numpy as np
    import torch
    from hydra import compose, initialize_config_dir

    from gantrain.config import conf_dir
    from gantrain.metrics import make_scorer

    torch.set_num_threads(args.threads)
    with initialize_config_dir(str(conf_dir()), version_base=None):
        cfg = compose("train", overrides=[f"dataset.root={args.root}"])
    scorer = make_scorer(cfg.dataset, "cpu", "classifier", "test")
    out = {}
    for name, path in paths.items():
        images = torch.from_numpy(np.load(path)["images"])  # uint8 (N, 1, 28, 28)
        out[name] = scorer.score_images(images)
        out[name]["min_class_share"] = min(out[name]["class_histogram"])
    out["protocol"] = {
        "extractor": scorer.info["extractor"],
        "split": "test",
        "reference_images": scorer.num_real,
    }
    return out


def report(args, results: dict, scores: dict, info: dict) -> str:
    lines = [
        f"# Quality: classic recipe vs gantrain ({info['date']})",
        "",
        "| recipe | weights | FID | KID (± std) | classes >= 5% | min class share | "
        "ms/round | rounds/s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("classic", "gantrain"):
        r, s = results[name], scores[name]
        rps, peak = r["rounds_per_s"], r["peak_rss_mb"]
        speed = f"{1000 / rps:.1f} | {rps:.2f}" if rps else "- | -"
        lines.append(
            f"| {name} | {r['weights']} | {s['fid']:.2f} | {s['kid']:.4f} ± {s['kid_std']:.4f} "
            f"| {s['classes_present']}/{s['num_classes']} | {s['min_class_share']:.3f} | "
            f"{speed} | {peak if peak is not None else '-'} |"
        )
    cut = 1 - scores["gantrain"]["fid"] / scores["classic"]["fid"]
    ext = scores["protocol"]["extractor"]
    acc = ext.get("test_accuracy")
    over = " ".join(args.overrides) or "none (defaults)"
    lines += [
        "",
        f"**FID reduction, gantrain vs classic: {100 * cut:.1f}%** (issue 5 goal: at least 25%, "
        "all ten classes at >= 5%, no slower per round)",
        "",
        f"- rounds: {args.rounds} each on {args.device}; training seed {args.seed}; "
        f"threads {args.threads}; "
        f"gantrain overrides: {over}",
        f"- protocol: {args.num_samples} samples from fixed noise (seed {args.sample_seed}) vs "
        f"{scores['protocol']['reference_images']} MNIST test digits; {ext.get('name')} "
        "features"
        + (f" ({100 * acc:.2f}% held-out accuracy)" if acc else "")
        + "; FID/KID by torchmetrics; both sets through the same Scorer.score_images",
        "- round time: classic excludes its first 10 rounds; gantrain's is summary.json "
        "rounds_per_s (its whole loop, grids and checkpoints included, not start-up)",
        f"- machine: {info['cpu']}; {info['cores']} cores; torch {info['torch']}; load average "
        f"at start {', '.join(f'{x:.2f}' for x in info['load_avg_at_start'])}"
        + (f"; GPU {info['gpu']}" if "gpu" in info else ""),
        f"- samples: {results['classic']['samples']}, {results['gantrain']['samples']}",
        f"- command: `python benchmarks/quality.py {' '.join(sys.argv[1:])}`",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    common.set_thread_env(args.threads)
    info = common.machine_info(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results = {"classic": train_classic(args), "gantrain": train_gantrain(args)}
    scores = score(args, {k: v["samples"] for k, v in results.items()})
    text = report(args, results, scores, info)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    record = {
        "machine": info,
        "args": {k: str(v) for k, v in vars(args).items()},
        "results": results,
        "scores": scores,
    }
    common.write_json(args.out.with_suffix(".json"), record)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
