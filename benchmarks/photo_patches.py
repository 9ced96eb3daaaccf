"""A small real photo folder for the image-folder benchmarks: square patches cropped from the
sample photos that ship with scikit-learn (a temple, a flower) and, when scikit-image is
installed, its photos too (astronaut, cat, coffee, rocket), scaled to one side.
    python benchmarks/photo_patches.py --out /tmp/photos --n 2000 --side 64
Patches are PNG (no second lossy step); crop sides are drawn between 1.5x and 4x the output side,
so a patch shows a part of a photo (a roof, petals, a face), not the whole scene."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def photos() -> list[tuple[str, Image.Image]]:
    from sklearn.datasets import load_sample_images

    data = load_sample_images()
    out = [(Path(f).stem, Image.fromarray(a)) for f, a in zip(data.filenames, data.images)]
    try:
        import skimage.data as sk
    except ImportError:
        return out
    return out + [
        (n, Image.fromarray(getattr(sk, n)())) for n in ("astronaut", "chelsea", "coffee", "rocket")
    ]


def write_patches(out: Path, n: int, side: int, seed: int = 0) -> dict[str, int]:
    """n patches in out/<photo>_<i>.png; returns how many each photo gave."""
    rng = np.random.default_rng(seed)
    sources = photos()
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for i in range(n):
        name, photo = sources[i % len(sources)]
        most = min(photo.width, photo.height, 4 * side)
        crop = int(rng.integers(min(int(1.5 * side), most), most + 1))
        x = int(rng.integers(0, photo.width - crop + 1))
        y = int(rng.integers(0, photo.height - crop + 1))
        patch = photo.crop((x, y, x + crop, y + crop)).resize(
            (side, side), Image.Resampling.LANCZOS
        )
        patch.save(out / f"{name}_{i:05d}.png")
        counts[name] = counts.get(name, 0) + 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--side", type=int, default=64)
    args = ap.parse_args()
    print(write_patches(args.out, args.n, args.side))


if __name__ == "__main__":
    main()
