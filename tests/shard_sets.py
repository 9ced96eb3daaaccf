"""Shard sets in gantrain-pack's format, written by the tests themselves (tarfile + PIL), and a
local http server to read them from."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image


def sample_image(i: int, size: int, channels: int) -> np.ndarray:
    """uint8 (size, size, channels) whose first pixel encodes i: a sample is known by its pixels."""
    rng = np.random.default_rng(i)
    arr = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
    arr[0, 0, 0], arr[0, 1, 0] = i % 256, (i // 256) % 256
    return arr


def index_of(image) -> int:
    """The sample index sample_image wrote into an image, uint8 (C, S, S)."""
    return int(image[0, 0, 0]) + 256 * int(image[0, 0, 1])


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(
    root: Path,
    counts: list[int],
    size: int = 8,
    channels: int = 3,
    classes: int = 0,
    fmt: str = "png",
) -> Path:
    """ROOT/shard-NNNNNN.tar holding counts[s] samples each, and ROOT/manifest.json; sample i
    is sample_image(i), of class i % classes when classes."""
    shards, key = [], 0
    for count in counts:
        files = []
        for _ in range(count):
            arr = sample_image(key, size, channels)
            out = io.BytesIO()
            Image.fromarray(arr[..., 0] if channels == 1 else arr).save(
                out, format="PNG" if fmt == "png" else "JPEG"
            )
            files.append((out.getvalue(), key % classes if classes else None))
            key += 1
        shards.append(files)
    names = [f"c{c}" for c in range(classes)] if classes else None
    return write_set(root, shards, size, channels, names, fmt)


def write_set(
    root: Path,
    shards: list[list[tuple[bytes, int | None]]],
    size: int,
    channels: int,
    classes: list[str] | None,
    fmt: str = "png",
) -> Path:
    """A shard set of encoded images: shards[s] lists shard s's (image file bytes, class or
    None); keys count up from 0 across the shards."""
    root.mkdir(parents=True, exist_ok=True)
    entries, key, counts = [], 0, [0] * len(classes or [])
    for s, files in enumerate(shards):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for image, label in files:
                _add(tar, f"{key:09d}.{fmt}", image)
                if label is not None:
                    _add(tar, f"{key:09d}.cls", str(label).encode())
                    counts[label] += 1
                key += 1
        data = buf.getvalue()
        name = f"shard-{s:06d}.tar"
        (root / name).write_bytes(data)
        entries.append(
            {
                "name": name,
                "count": len(files),
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    manifest = {
        "format": "gantrain-shards",
        "version": 1,
        "count": key,
        "image_size": size,
        "channels": channels,
        "image_format": fmt,
        "classes": classes,
        "class_counts": counts if classes else None,
        "resize": {"mode": "centre_crop", "filter": "bicubic"},
        "shards": entries,
        "skipped": [],
        "source": "tests",
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path):
    """An http server for folder on a free localhost port, in a thread: (url, server)."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server
