"""gantrain-pack's rate: images per second packed from a folder of JPEG photos, at 64, 128
and 256 px, with 1 and 2 worker processes (PNG shards, centre crop, bicubic).

    python benchmarks/pack_rate.py --images 400 --sizes 64 128 256 --workers 1 2

The photos are made here: 640 x 480 JPEGs (quality 90) of smooth colour fields with noise,
about the cost of a camera picture scaled down. Each rate is the best of --repeats packs into
a fresh folder, so a busy machine's interruptions count less; beside it, images per CPU-second
(the packing process and its workers together), which other work on the machine changes less.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path


def photos(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:480, :640] / 97.0
    for i in range(n):
        phase = rng.uniform(0, 6, 3)
        smooth = np.stack([np.sin(xx * (1 + k) + yy * (2 - k) + phase[k]) for k in range(3)], -1)
        arr = (smooth + 1) * 100 + rng.normal(0, 12, smooth.shape)
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=90)


def cpu_seconds() -> float:
    """User + system time of this process and its finished children (the pack's workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where the photos and packs go (a temp dir)")
    args = parser.parse_args(argv)
    from gantrain.commands.pack import pack

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.images} photos 640x480 JPEG"
    )
    print(
        "| px | workers | images/s | images per CPU-second | MB of shards |\n|---|---|---|---|---|"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as base:
        src = Path(base) / "photos"
        photos(src, args.images)
        for size in args.sizes:
            for workers in args.workers:
                best, per_cpu, mb = 0.0, 0.0, 0.0
                for r in range(args.repeats):
                    out = Path(base) / f"pack-{size}-{workers}-{r}"
                    t0, c0 = time.perf_counter(), cpu_seconds()
                    pack(
                        src=str(src), out=str(out), image_size=size, workers=workers, progress=False
                    )
                    best = max(best, args.images / (time.perf_counter() - t0))
                    per_cpu = max(per_cpu, args.images / (cpu_seconds() - c0))
                    mb = sum(p.stat().st_size for p in out.glob("*.tar")) / 1e6
                print(f"| {size} | {workers} | {best:.0f} | {per_cpu:.0f} | {mb:.1f} |", flush=True)


if __name__ == "__main__":
    main()
