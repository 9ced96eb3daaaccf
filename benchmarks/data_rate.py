"""Images per second delivered to the training step by each way of reading data: packed shards
from disk and over http (localhost), an image folder streamed (decoded every time), and a held
uint8 tensor; at several sizes, with 1 and 2 DataLoader workers.

    python benchmarks/data_rate.py --images 2000 --sizes 64 128 256 --workers 1 2

The source: crops of scikit-learn's two sample photos (427 x 640), at random places and scales,
saved as JPEG files of 300 to 420 px a side (a folder of photos); the shards hold the same
photos squared by gantrain's decoder to each size and stored as PNG, as gantrain-pack does.
The "step" takes the batch and does nothing else: what is measured is the data path alone.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from common import machine_info, set_thread_env, write_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shard writer


def photo_folder(folder: Path, n: int, side: tuple[int, int]) -> list[Path]:
    """n JPEG crops of the sample photos, scaled so their sides lie in side (min, max)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        photo = photos[i % 2]
        w, h = (int(v) for v in rng.integers(side[0], side[1] + 1, 2))
        scale = max(1.0, w / 400, h / 400)  # crops of at most 400 px, upscaled to the side
        cw, ch = int(w / scale), int(h / scale)
        x, y = int(rng.integers(0, photo.width - cw)), int(rng.integers(0, photo.height - ch))
        crop = photo.crop((x, y, x + cw, y + ch)).resize((w, h), Image.Resampling.BICUBIC)
        path = folder / f"{i:05d}.jpg"
        crop.save(path, quality=90)
        paths.append(path)
    return paths


def pack(
    paths: list[Path], out: Path, size: int, fmt: str = "png", per_shard: int = 250
) -> tuple[Path, float]:
    """The photos as a shard set at size, squared by gantrain's decoder: fmt png (zlib level 1,
    as gantrain-pack writes), png0 (level 0: stored, not deflated) or jpg (quality 95);
    (root, images packed per second)."""
    from PIL import Image
    from shard_sets import write_set

    from gantrain.data.decode import decode

    t0 = time.perf_counter()
    shards, files = [], []
    for path in paths:
        buf = io.BytesIO()
        square = Image.fromarray(decode(path, size, 3).permute(1, 2, 0).numpy())
        square.save(
            buf, **({"format": "PNG"} if fmt == "png" else {"format": "JPEG", "quality": 95})
        )
        files.append((buf.getvalue(), None))
        if len(files) == per_shard:
            shards, files = [*shards, files], []
    root = write_set(out, shards + ([files] if files else []), size, 3, None, fmt[:3])
    return root, len(paths) / (time.perf_counter() - t0)


def rate(batches, n_batches: int, batch_size: int, repeats: int) -> list[float]:
    """Images per second over n_batches, `repeats` times, after two batches that start the
    workers. On a machine shared with other work the best of them is the least disturbed."""
    for _ in range(2):
        batches()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n_batches):
            batches()
        out.append(n_batches * batch_size / (time.perf_counter() - t0))
    return out


def sources(folder: Path, packs: dict[str, Path], url: str, size: int, workers: int):
    """(name, the loader's result) for each way of reading."""
    from gantrain.data import image_folder
    from gantrain.data import shards as shard_sets

    yield "shards (local)", shard_sets.load(str(packs["png"]), size, in_memory_max=0)
    yield "shards (http)", shard_sets.load(url, size, in_memory_max=0)
    yield "shards (local, PNG level 0)", shard_sets.load(str(packs["png0"]), size, in_memory_max=0)
    yield "shards (local, JPEG)", shard_sets.load(str(packs["jpg"]), size, in_memory_max=0)
    yield "image folder (streamed)", image_folder.load(str(folder), size, in_memory_max=0)
    if workers == 1:  # held: no workers at all, decoded once beforehand
        yield "held tensor", image_folder.load(str(folder), size, workers=2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--side", type=int, nargs=2, default=[300, 420], help="source photo sides")
    ap.add_argument("--out", default=f"benchmarks/results/data-rate-{time.strftime('%Y-%m-%d')}")
    args = ap.parse_args()
    set_thread_env(1)
    import torch
    from shard_sets import serve

    from gantrain.data import make_batches

    info = machine_info(1)
    rows, packing = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        paths = photo_folder(folder, args.images, tuple(args.side))
        for size in args.sizes:
            packs = {
                f: pack(paths, Path(tmp) / f"{f}-{size}", size, f) for f in ("png", "png0", "jpg")
            }
            packing[size] = packs["png"][1]
            packs = {f: root for f, (root, _) in packs.items()}
            url, server = serve(packs["png"])
            for workers in args.workers:
                for name, source in sources(folder, packs, url, size, workers):
                    batches = make_batches(source, args.batch, torch.device("cpu"), 0, workers)
                    rates = rate(batches, args.batches, args.batch, args.repeats)
                    r = max(rates)
                    rows.append(
                        {
                            "source": name,
                            "size": size,
                            "workers": workers,
                            "images_per_s": r,
                            "all": rates,
                            "load": os.getloadavg()[0],
                        }
                    )
                    print(
                        f"{size:4d} px  {workers} workers  {name:28s} {r:9.0f} images/s", flush=True
                    )
                    del batches
            server.shutdown()
    info["load_avg_at_end"] = os.getloadavg()
    write_json(
        f"{args.out}.json",
        {"machine": info, "rows": rows, "packing_images_per_s": packing, "args": vars(args)},
    )
    print("packing (one process, images/s):", {k: round(v) for k, v in packing.items()})


if __name__ == "__main__":
    main()
