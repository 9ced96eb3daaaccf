"""gantrain-pack's engine: a Source's images, decoded once by the one decoder, into WebDataset
tar shards (OUT/shard-000000.tar ...: KEY.png or KEY.jpg, and KEY.cls when there are classes;
KEY the sample's index, %09d) plus OUT/manifest.json, written last: its presence means done.

Each finished shard is recorded (name, count, sha256, where the source continues) in
OUT/pack-progress.json, atomically; an interrupted pack continues after the last recorded shard
whose bytes still match their sha256, and its shards come out identical to an uninterrupted
pack's, because a shard ends at the first sample that takes it past shard_mb.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import multiprocessing as mp
import os
import signal
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantrain.data.decode import MAX_PIXELS, Recipe, TooLarge, decode, square

log = logging.getLogger(__name__)
MANIFEST, PROGRESS = "manifest.json", "pack-progress.json"
CHUNK = 16  # images a worker decodes per task: enough to amortise the hand-over
PARTIAL = ".partial"


class Interrupted(Exception):
    """Ctrl-C during a pack: the finished shards are kept. Not a mistake: exit status 130."""


@dataclass(frozen=True)
class Settings:
    image_size: int
    channels: int
    recipe: Recipe
    image_format: str = "png"
    quality: int = 95
    shard_mb: float = 100.0

    def key(self, source) -> dict:
        """What a pack must have been made with for this one to continue or skip it."""
        names = hashlib.sha256("\n".join(source.names).encode()).hexdigest()
        return {
            "source": source.what,
            "items": len(source),
            "items_sha256": names,
            "image_size": self.image_size,
            "channels": self.channels,
            "image_format": self.image_format,
            "quality": self.quality,
            "resize": self.recipe.as_dict(),
            "shard_mb": self.shard_mb,
        }


def encode(image, fmt: str, quality: int) -> bytes:
    """uint8 (C, S, S) -> PNG (lossless) or JPEG bytes."""
    from PIL import Image

    arr = image.permute(1, 2, 0).numpy()  # (S, S, C)
    pil = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else np.ascontiguousarray(arr))
    out = io.BytesIO()
    if fmt == "png":
        # zlib level 1: about twice as fast to write as Pillow's default 6, for ~12% more bytes
        # (benchmarks/pack_rate.py's photos at 256 px); reading them costs the same
        pil.save(out, format="PNG", compress_level=1)
    else:
        pil.save(out, format="JPEG", quality=quality)
    return out.getvalue()


_SOURCE = None  # the Source a worker process reads


def _start(source) -> None:
    global _SOURCE
    _SOURCE = source
    if mp.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the packing process's to handle


def _encode_range(task: tuple[int, int, Settings]) -> list[tuple[int, bytes | None, str]]:
    """(index, encoded image or None, why not) for source items start..stop-1."""
    start, stop, s = task
    out: list[tuple[int, bytes | None, str]] = []
    for i in range(start, stop):
        try:
            item = _SOURCE.item(i)  # type: ignore[union-attr]  # set in each worker first
            if hasattr(item, "getexif"):  # already a PIL image (torchvision arrays)
                image = square(item, s.image_size, s.channels, s.recipe)
            else:
                image = decode(item, s.image_size, s.channels, s.recipe)
            out.append((i, encode(image, s.image_format, s.quality), ""))
        except TooLarge as err:
            out.append((i, None, f"too large: {err} (more than {MAX_PIXELS:,} pixels)"))
        except Exception as err:  # PIL raises many types for a bad file; each means "skip it"
            out.append((i, None, f"unreadable: {type(err).__name__}: {err}"[:300]))
    return out


def encoded(source, settings: Settings, start: int, workers: int) -> Iterator[tuple]:
    """Every item from start on, in order, encoded by `workers` processes (<= 1: this one)."""
    tasks = [(a, min(a + CHUNK, len(source)), settings) for a in range(start, len(source), CHUNK)]
    if workers <= 1:
        _start(source)
        for task in tasks:
            yield from _encode_range(task)
        return
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else methods[0])
    with ctx.Pool(workers, initializer=_start, initargs=(source,)) as pool:
        for results in pool.imap(_encode_range, tasks):
            yield from results


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ShardWriter:
    """One tar shard, written as NAME.partial and renamed when finished. Members carry no
    times or owners, so the same samples give the same bytes (and sha256) on every run."""

    def __init__(self, out: Path, number: int, ext: str):
        self.path = out / f"shard-{number:06d}.tar"
        self.partial = self.path.with_name(self.path.name + PARTIAL)
        self.tar = tarfile.open(self.partial, "w", format=tarfile.USTAR_FORMAT)
        self.ext, self.count, self.bytes = ext, 0, 0

    def add(self, key: str, data: bytes, label: int | None) -> None:
        members = [(f"{key}.{self.ext}", data)]
        if label is not None:
            members.append((f"{key}.cls", str(label).encode("ascii")))
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(payload), 0o644, 0
            self.tar.addfile(info, io.BytesIO(payload))
            self.bytes += 512 + -(-len(payload) // 512) * 512  # header + padded payload
        self.count += 1

    def finish(self) -> dict:
        self.tar.close()
        with open(self.partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.partial, self.path)
        size = self.path.stat().st_size
        return {
            "name": self.path.name,
            "count": self.count,
            "sha256": sha256_of(self.path),
            "bytes": size,
        }

    def discard(self) -> None:
        self.tar.close()
        self.partial.unlink(missing_ok=True)


def write_json(path: Path, data: dict) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + PARTIAL)
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
