"""Round time of gantrain against the classic recipe and the bare-compute floor, in one run.

Each variant runs as its own process, one after the other (never in parallel), with the same
threads (OMP_NUM_THREADS) and rounds; repeats are interleaved (classic, floor, gantrain, classic,
...) so slow drift of the machine spreads over all variants. This process samples each child's
process tree (DataLoader workers included) every 50 ms for peak RSS, the same way for all.

  classic   benchmarks/classic_dcgan.py: torchvision dataset + DataLoader (2 workers)
  floor     benchmarks/floor.py: gantrain's step on a preloaded float tensor
  gantrain  `gantrain ... trainer.rounds=N`: rounds_per_s from its summary.json
  *-reuse   the same with objective.reuse_fake=true (G's step reuses the D step's fake batch)
  gantrain-bf16  gantrain with device.amp=true: bf16 on a CPU that computes it natively
             (gantrain and the floor run the CPU in float32 by default, device.amp=auto)

    python benchmarks/speed.py --root ROOT                      # 500 rounds, all cores
    python benchmarks/speed.py --root ROOT --repeats 3 --variants all
    python benchmarks/speed.py --root ROOT --reuse-fake trainer.ema_decay=0.999
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

HERE = Path(__file__).resolve().parent
ALL = ("classic", "floor", "gantrain", "gantrain-bf16", "floor-reuse", "gantrain-reuse")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="holds MNIST/raw/*-ubyte (torchvision layout)")
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="default: all cores")
    p.add_argument("--repeats", type=int, default=1, help="runs per variant; the median is shown")
    p.add_argument("--workers", type=int, default=2, help="the classic loop's DataLoader workers")
    p.add_argument("--device", default="cpu", help="cpu or cuda, for every variant")
    p.add_argument("--image-size", type=int, default=28, help="MNIST resized to N px (28, 64)")
    p.add_argument("--variants", default=None, help=f"comma list of {', '.join(ALL)}, or all")
    p.add_argument("--reuse-fake", action="store_true", help="floor and gantrain with reuse_fake")
    p.add_argument("--out", help="Markdown report (default results/speed-<date>.md; .json beside)")
    p.add_argument("--work-dir", help="keep run logs and gantrain run dirs here (default: temp)")
    p.add_argument("overrides", nargs="*", help="gantrain KEY=VALUE overrides (floor too)")
    args = p.parse_args(argv)
    if args.variants in (None, ""):
        args.variants = (
            "classic,floor-reuse,gantrain-reuse" if args.reuse_fake else "classic,floor,gantrain"
        )
    names = list(ALL) if args.variants == "all" else args.variants.split(",")
    bad = [v for v in names if v not in ALL]
    if bad:
        p.error(f"--variants: unknown {', '.join(bad)}; choose from {', '.join(ALL)} or all")
    args.variants = names
    return args


def command(variant: str, args, work: Path, k: int) -> tuple[list[str], Path]:
    """The command line of one run and the file its timing lands in."""
    py = [sys.executable]
    common_args = [
        "--root",
        args.root,
        "--rounds",
        str(args.rounds),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--no-rss",
    ]
    out = work / f"{variant}-{k}.json"
    reuse = variant.endswith("-reuse")
    overrides = [f"dataset.image_size={args.image_size}", *args.overrides]
    if variant == "classic":
        cmd = py + [str(HERE / "classic_dcgan.py"), *common_args, "--workers", str(args.workers)]
        g_width, d_width = net_widths(overrides)
        cmd += [
            "--image-size",
            str(args.image_size),
            "--g-width",
            str(g_width),
            "--d-width",
            str(d_width),
        ]
        return cmd + ["--time-json", str(out)], out
    if variant.startswith("floor"):
        cmd = py + [str(HERE / "floor.py"), *common_args, "--time-json", str(out)]
        return cmd + (["--reuse-fake"] if reuse else []) + ["--", *overrides], out
    run_dir = work / f"{variant}-{k}"
    n = args.rounds
    cmd = [
        py[0],
        "-m",
        "gantrain",
        f"dataset.root={args.root}",
        f"device={args.device}",
        f"trainer.rounds={n}",
        f"trainer.sample_at=[{n}]",
        f"trainer.log_every={n}",
        f"hydra.run.dir={run_dir}",
    ]
    cmd += (["objective.reuse_fake=true"] if reuse else []) + overrides
    cmd += ["device.amp=true"] if variant == "gantrain-bf16" else []
    return cmd, run_dir / "summary.json"


def net_widths(overrides: list[str]) -> tuple[int, int]:
    """The generator and critic widths gantrain builds with these overrides: the classic loop
    trains the same nets, so that the comparison is of everything around them."""
    from hydra import compose, initialize_config_dir

    from gantrain.config import conf_dir

    with initialize_config_dir(str(conf_dir()), version_base=None):
        cfg = compose("train", overrides=overrides)
    return int(cfg.model.width), int(cfg.objective.critic.width)


def run_one(variant: str, args, work: Path, k: int) -> dict:
    cmd, result = command(variant, args, work, k)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    log_path = work / f"{variant}-{k}.log"
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        with common.PeakRSS(proc.pid) as rss:
            rc = proc.wait()
    if rc != 0:
        tail = log_path.read_text()[-3000:]
        sys.exit(f"{variant} failed (exit {rc}): {' '.join(cmd)}\n{tail}")
    data = json.loads(result.read_text())
    rps = data["rounds_per_s"]
    rec = {
        "variant": variant,
        "rounds_per_s": rps,
        "ms_per_round": 1000 / rps,
        "peak_rss_mb": rss.peak_mb,
        "process_s": round(time.perf_counter() - t0, 1),
        "command": cmd,
    }
    if "peak_gpu_mb" in data:
        rec["peak_gpu_mb"] = data["peak_gpu_mb"]
    print(
        f"  {variant:15s} run {k + 1}: {rec['ms_per_round']:7.1f} ms/round  "
        f"{rps:6.2f} rounds/s  peak RSS {rss.peak_mb:7.1f} MB  ({rec['process_s']} s)",
        flush=True,
    )
    return rec


def summarise(runs: list[dict], variants: list[str]) -> dict[str, dict]:
    rows = {}
    for v in variants:
        mine = [r for r in runs if r["variant"] == v]
        rows[v] = {
            "ms_per_round": statistics.median(r["ms_per_round"] for r in mine),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
            "runs": len(mine),
        }
    return rows


def table(rows: dict[str, dict]) -> str:
    def ratio(v: str, base: str | None) -> str:
        if base is None or base not in rows:
            return "-"
        return f"{rows[v]['ms_per_round'] / rows[base]['ms_per_round']:.3f}"

    lines = [
        "| variant | ms/round | rounds/s | ratio to classic | ratio to floor | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for v, r in rows.items():
        floor = "floor-reuse" if v.endswith("-reuse") and "floor-reuse" in rows else "floor"
        lines.append(
            f"| {v} | {r['ms_per_round']:.1f} | {1000 / r['ms_per_round']:.2f} | "
            f"{ratio(v, 'classic')} | {ratio(v, floor)} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def report(args, rows: dict, info: dict) -> str:
    over = " ".join(args.overrides) or "none"
    return "\n".join(
        [
            f"# Speed: gantrain vs the classic recipe vs the floor ({info['date']})",
            "",
            table(rows),
            "",
            f"- rounds per run: {args.rounds}; runs per variant: {args.repeats} (median ms/round; "
            "peak RSS is the largest over runs, summed over each run's process tree)",
            f"- image size: {args.image_size} px; threads: {args.threads} (OMP_NUM_THREADS); "
            f"device: {args.device}; classic DataLoader "
            f"workers: {args.workers}; gantrain/floor overrides: {over}",
            "- classic and floor time rounds 11..N; gantrain's summary.json rounds_per_s covers all "
            "N rounds of its loop (its one grid and checkpoint at round N included), not start-up",
            "- ratios are ms/round over the baseline's (< 1: faster); '-reuse' rows are compared "
            "with floor-reuse where it ran",
            f"- machine: {info['cpu']}; {info['cores']} cores ({info['usable_cores']} usable); "
            f"torch {info['torch']}; Python {info['python']}; load average at start "
            f"{', '.join(f'{x:.2f}' for x in info['load_avg_at_start'])}"
            + (f"; GPU {info['gpu']}" if "gpu" in info else ""),
            f"- command: `python benchmarks/speed.py {' '.join(sys.argv[1:])}`",
            "",
        ]
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    info = common.machine_info(args.threads)
    out = Path(args.out or HERE / "results" / f"speed-{time.strftime('%Y-%m-%d_%H%M')}.md")
    with tempfile.TemporaryDirectory(prefix="gantrain-speed-") as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(
            f"{args.rounds} rounds, {args.threads} threads, {args.repeats} repeat(s): "
            f"{', '.join(args.variants)}",
            flush=True,
        )
        runs = [run_one(v, args, work, k) for k in range(args.repeats) for v in args.variants]
    rows = summarise(runs, args.variants)
    text = report(args, rows, info)
    print("\n" + text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    common.write_json(
        out.with_suffix(".json"),
        {"machine": info, "args": vars(args), "summary": rows, "runs": runs},
    )
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
