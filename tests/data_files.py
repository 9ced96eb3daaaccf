"""Tiny dataset files in the real formats the readers take: MNIST's idx files, CIFAR-10's
batches, image folders (with a broken file), CelebA's folders and odd PNGs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's IDX format: magic (0, 0, dtype 0x08 = uint8, ndim), big-endian sizes, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def digit_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 images of bright strokes on black (a ring or a bar per class), and labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.float32)
    for i, c in enumerate(labels):
        cy, cx = 14 + rng.normal(0, 1.5, 2)
        if c % 2 == 0:
            r = 6 + c / 4
            d = np.abs(np.hypot(yy - cy, xx - cx) - r)
        else:
            d = np.abs((xx - cx) * np.cos(c) + (yy - cy) * np.sin(c))
            d[np.hypot(yy - cy, xx - cx) > 9] = 9
        images[i] = np.clip(1.5 - d, 0, 1)
    return (images * 255).astype(np.uint8), labels


def write_mnist_family(root: Path, folder: str, n_train: int = 64, n_test: int = 16) -> np.ndarray:
    """ROOT/<folder>/raw/*-ubyte as torchvision's MNIST classes lay them out; the train images."""
    raw = root / folder / "raw"
    out = None
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = digit_like(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out = images if prefix == "train" else out
    return out


def write_cifar10(root: Path, per_batch: int = 8, seed: int = 0) -> np.ndarray:
    """ROOT/cifar-10-batches-py in CIFAR-10's python format: pickled dicts whose "data" rows are
    3072 bytes (1024 red, 1024 green, 1024 blue, each row-major). Returns the train images as
    (N, 3, 32, 32) uint8."""
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        entry = {
            "batch_label": name,
            "labels": rng.integers(0, 10, per_batch).tolist(),
            "data": data,
            "filenames": [f"{name}_{i}.png" for i in range(per_batch)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        if name != "test_batch":
            train.append(data.reshape(-1, 3, 32, 32))
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": per_batch}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return np.concatenate(train)


def coloured_picture(w: int, h: int, seed: int):
    """A PIL RGB image of w x h: a coloured background with a bright disc."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 100, 3)))
    r = min(w, h) // 3
    colour = tuple(int(c) for c in rng.integers(120, 256, 3))
    ImageDraw.Draw(img).ellipse([w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r], fill=colour)
    return img


def write_image_folder(root: Path, n: int = 12, corrupt: int = 1) -> list[Path]:
    """n RGB pictures of assorted sizes, PNG and JPEG, some in a subfolder, plus `corrupt` files
    named .jpg that are not images. Returns the good paths."""
    good = []
    for i in range(n):
        folder = root / "sub" if i % 3 == 0 else root
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"pic{i:03d}.{'png' if i % 2 else 'jpg'}"
        coloured_picture(40 + 7 * i, 30 + 5 * (i % 4), i).save(path)
        good.append(path)
    for i in range(corrupt):
        (root / f"broken{i}.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    (root / "notes.txt").write_text("not an image and not counted")
    return good


CELEBA_ATTRS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Smiling"]


def write_celeba(root: Path, splits: tuple[int, ...] = (6, 2, 2)) -> None:
    """ROOT/celeba in the aligned CelebA layout: img_align_celeba/NNNNNN.jpg (178x218) and the
    five space-separated annotation files torchvision reads; splits counts train/valid/test."""
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    names, parts = [], []
    for part, count in enumerate(splits):
        for _ in range(count):
            names.append(f"{len(names) + 1:06d}.jpg")
            parts.append(part)
    for i, name in enumerate(names):
        coloured_picture(178, 218, i).save(base / "img_align_celeba" / name, quality=90)
    n = len(names)

    def table(file: str, header: list[str] | None, rows: list[str]) -> None:
        lines = ([str(n), " ".join(header)] if header is not None else []) + rows
        (base / file).write_text("\n".join(lines) + "\n")

    table("list_eval_partition.txt", None, [f"{a} {p}" for a, p in zip(names, parts)])
    table("identity_CelebA.txt", None, [f"{a} {i % 3}" for i, a in enumerate(names)])
    table(
        "list_bbox_celeba.txt",
        ["image_id", "x_1", "y_1", "width", "height"],
        [f"{a}    95  71 226 313" for a in names],
    )
    marks = ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y"]
    table("list_landmarks_align_celeba.txt", marks, [f"{a} 69 109 106 113 77 142" for a in names])
    table("list_attr_celeba.txt", CELEBA_ATTRS, [f"{a} -1  1  1" for a in names])


def png_chunk(kind: bytes, data: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_odd_images(root: Path) -> dict[str, str]:
    """One file of every awkward kind the decoder handles, named by the case, in root; returns
    {file name: "ok" or why it is skipped}. Sorted by name as find_images lists them."""
    import zlib

    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)  # landscape, non-square
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # EXIF orientation: show rotated 90 degrees clockwise
    img.save(root / "a_exif_rotated.jpg", exif=exif.tobytes(), quality=90)
    grey16 = (np.arange(40 * 24).reshape(24, 40) * 60).astype(np.uint16)
    Image.fromarray(grey16).save(root / "b_grey16.png")  # PIL mode I;16
    rgba = np.concatenate(
        [
            arr[:, :30],
            np.tile(np.arange(0, 255, 255 / 30, dtype=np.uint8)[:30], (30, 1))[..., None],
        ],
        2,
    )
    Image.fromarray(rgba, "RGBA").save(root / "c_rgba.png")
    Image.fromarray(arr[:20, :20]).convert("P").save(
        root / "d_palette_transparent.png", transparency=0
    )
    Image.fromarray(arr[:4]).save(root / "e_strip.png")  # 50 x 4
    Image.fromarray(arr).convert("CMYK").save(root / "f_cmyk.jpg", quality=90)
    row = b"\x00" + struct.pack(">H", 200 * 257) * 3 * 8  # 48-bit RGB, which PIL cannot write
    (root / "g_rgb48.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 12, 16, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(row * 12))
        + png_chunk(b"IEND", b"")
    )
    (root / "h_huge_header.png").write_bytes(  # 20000 x 20000 declared: refused from its header
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
        + png_chunk(b"IEND", b"")
    )
    (root / "i_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    Image.fromarray(arr[:, :, 0]).convert("LA").save(root / "j_grey_alpha.png")
    good = "ok"
    return {
        "a_exif_rotated.jpg": good,
        "b_grey16.png": good,
        "c_rgba.png": good,
        "d_palette_transparent.png": good,
        "e_strip.png": good,
        "f_cmyk.jpg": good,
        "g_rgb48.png": good,
        "h_huge_header.png": "too large",
        "i_corrupt.jpg": "unreadable",
        "j_grey_alpha.png": good,
    }
