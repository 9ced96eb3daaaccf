"""The bare-compute floor: gantrain's own training step with no input pipeline at all.

The model and objective are built from gantrain's composed config (the defaults: DCGAN(28, 1),
Adversarial with the DCGANCritic critic, Adam 2e-4 / (0.5, 0.999); any KEY=VALUE overrides
are passed through), exactly as `gantrain` builds them. Batches come from the training images
converted once to a float tensor in [-1, 1] on the device, indexed at random: no per-round
conversion. Only `objective.run_round(model, next_batch)` is timed (plus the EMA update when
trainer.ema_decay is set, as gantrain's loop does it), after --warmup rounds.

    python benchmarks/floor.py --root ROOT --rounds 500 --time-json floor.json
    python benchmarks/floor.py --root ROOT --reuse-fake          # objective.reuse_fake=true
"""

from __future__ import annotations

import argparse
import os
import time

import common


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--root", required=True, help="dataset.root (MNIST/raw/*-ubyte)")
    p.add_argument("--rounds", type=int, default=500, help="timed rounds come after --warmup")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")
    p.add_argument("--device", default="cpu", help="gantrain's device= (cpu, cuda)")
    p.add_argument("--reuse-fake", action="store_true", help="objective.reuse_fake=true")
    p.add_argument("--time-json", help="write the timing and peak RSS here")
    p.add_argument("--no-rss", action="store_true", help="no in-process RSS sampler thread")
    p.add_argument("overrides", nargs="*", help="gantrain KEY=VALUE overrides, e.g. model.width=64")
    args = p.parse_args(argv)
    if args.rounds <= args.warmup:
        p.error(f"--rounds={args.rounds} must exceed --warmup={args.warmup}")
    return args


def build_step(args):
    """(model, objective, EMA or None, images, device, batch size) as gantrain builds them;
    images: float (N, C, H, W) in [-1, 1] on the device."""
    from hydra import compose, initialize_config_dir

    from gantrain.config import build, conf_dir
    from gantrain.hardware.accel import Accelerator
    from gantrain.hardware.device import resolve_device
    from gantrain.hardware.host_memory import keep_freed_memory
    from gantrain.training.ema import EMA
    from gantrain.training.rng import seed_everything

    keep_freed_memory()  # as gantrain does: the floor is its step, allocator included

    overrides = [f"dataset.root={args.root}", f"device={args.device}", f"seed={args.seed}"]
    overrides += ["objective.reuse_fake=true"] if args.reuse_fake else []
    overrides += list(args.overrides)
    with initialize_config_dir(str(conf_dir()), version_base=None):
        cfg = compose("train", overrides=overrides)
    device = resolve_device(cfg.device.type)
    seed_everything(args.seed)
    accel = Accelerator.from_config(device, cfg.device)
    model = build(cfg.model)
    objective = build(cfg.objective)
    accel.prepare(model)
    objective.bind(model, accel)
    source = build(cfg.dataset)  # uint8 (N, C, H, W) for the in-memory sets
    images = source.to(device).float().div_(127.5).sub_(1.0)  # once, not per round
    ema = EMA(model, cfg.trainer.ema_decay) if cfg.trainer.get("ema_decay") else None
    return model, objective, ema, images, device, cfg.trainer.batch_size


def run(args) -> tuple[float, object, str]:
    import torch

    model, objective, ema, images, device, batch = build_step(args)
    n = images.shape[0]
    g = torch.Generator(device=device).manual_seed(args.seed)

    def next_batch() -> torch.Tensor:  # (B, C, H, W): a random index, nothing else
        return images[torch.randint(n, (batch,), generator=g, device=device)]

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model.train()
    t0 = time.perf_counter()
    for i in range(args.rounds):
        if i == args.warmup:
            sync()
            t0 = time.perf_counter()
        logs = objective.run_round(model, next_batch)
        if ema is not None:
            ema.update(model)
    sync()
    seconds = time.perf_counter() - t0
    last = " ".join(f"{k} {float(v):.4f}" for k, v in logs.items())
    return seconds, device, last + (" (+EMA update)" if ema is not None else "")


def main(argv=None) -> None:
    args = parse_args(argv)
    common.set_thread_env(args.threads)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rss = common.PeakRSS(os.getpid())
    if args.no_rss:
        seconds, device, last = run(args)
    else:
        with rss:
            seconds, device, last = run(args)
    record = common.timing_record(
        args.rounds,
        args.warmup,
        seconds,
        variant="floor-reuse-fake" if args.reuse_fake else "floor",
        reuse_fake=args.reuse_fake,
        overrides=list(args.overrides),
        threads=torch.get_num_threads(),
        device=str(device),
        peak_rss_mb=None if args.no_rss else rss.peak_mb,
    )
    if device.type == "cuda":
        record["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(f"last round: {last}")
    print(
        f"{record['variant']}: {record['ms_per_round']:.1f} ms/round, "
        f"{record['rounds_per_s']:.2f} rounds/s over {record['timed_rounds']} rounds; "
        f"peak RSS {record['peak_rss_mb']} MB"
    )
    if args.time_json:
        common.write_json(args.time_json, record)


if __name__ == "__main__":
    main()
