"""Sampled images written as they are drawn: into an .npz, a folder of PNGs, or one PNG grid.

Batches stream through, so any count costs the memory of one batch (a grid excepted: it is one
picture, and GRID_MAX bounds it). Progress goes to stderr: a bar on a terminal, else a few
plain lines.
"""

from __future__ import annotations

import logging
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from gantrain.errors import UserError
from gantrain.record.run_files import atomic

log = logging.getLogger("gantrain")
# images in one PNG grid: 10,000 MNIST digits already make a 2,900-pixel-wide picture, and
# past that no one can read a grid
GRID_MAX = 10_000


def check_grid(out: Path, count: int) -> None:
    if out.suffix == ".png" and count > GRID_MAX:
        raise UserError(
            f"out={out}: a grid of {count:,} images is too large to read (at most {GRID_MAX:,}); "
            f"give out={out.with_suffix('.npz')} or a folder (out={out.with_suffix('')})"
        )


def progress(chunks: Iterable[torch.Tensor], total: int, what: str) -> Iterator[torch.Tensor]:
    """chunks unchanged, their image count shown on stderr: a tqdm bar on a terminal, else a
    line at every tenth once it takes a while (log files get no carriage returns)."""
    if total <= 0:
        yield from chunks
        return
    if sys.stderr.isatty():
        from tqdm import tqdm

        with tqdm(total=total, unit="img", desc=what, file=sys.stderr, dynamic_ncols=True) as bar:
            for chunk in chunks:
                yield chunk
                bar.update(chunk.shape[0])
        return
    done, shown, t0 = 0, 0, time.perf_counter()
    for chunk in chunks:
        yield chunk
        done += chunk.shape[0]
        slow = time.perf_counter() - t0 > 2.0
        if slow and (done * 10 // total > shown or done == total):
            shown = done * 10 // total
            log.info("%s: %d/%d images (%.0f s)", what, done, total, time.perf_counter() - t0)


def _npy_header(f, shape: tuple[int, ...], dtype: np.dtype) -> None:
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": tuple(shape),
    }
    np.lib.format.write_array_header_2_0(f, header)


def write_npz(
    out: Path,
    chunks: Iterable[torch.Tensor],
    shape: tuple[int, ...],
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """out.npz holding images (shape, uint8, filled from chunks in order) and the extra arrays:
    the .npy format np.savez_compressed writes, its header written first with the final shape
    and then the raw bytes of each chunk; renamed into place only when complete."""
    with (
        atomic(out, "the samples") as tmp,
        zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf,
    ):
        written = 0
        with zf.open("images.npy", "w", force_zip64=True) as f:
            _npy_header(f, shape, np.dtype(np.uint8))
            for chunk in chunks:
                array = np.ascontiguousarray(chunk.numpy(), dtype=np.uint8)
                f.write(array.data)
                written += array.shape[0]
        if written != shape[0]:  # a bug upstream: never leave an .npz np.load cannot read
            raise RuntimeError(f"{written} images written where {shape[0]} were announced")
        for name, value in (extra or {}).items():
            array = np.ascontiguousarray(value.numpy())
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                _npy_header(f, array.shape, array.dtype)
                f.write(array.data)


def write_folder(out: Path, chunks: Iterable[torch.Tensor]) -> None:
    """out/000000.png, out/000001.png, ...: one PNG per image, in order."""
    from PIL import Image

    from gantrain.record.images import save_image_atomic

    out.mkdir(parents=True, exist_ok=True)
    i = 0
    for chunk in chunks:
        for img in chunk.permute(0, 2, 3, 1).numpy():  # (H, W, C)
            pic = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
            save_image_atomic(pic, out / f"{i:06d}.png")
            i += 1


def grid_picture(images: torch.Tensor, per_row: int):
    """uint8 (N, C, H, W) as one PIL picture, per_row images a row, torchvision make_grid's
    defaults otherwise (one image: the image itself)."""
    from torchvision.utils import make_grid

    from gantrain.record.images import to_pil

    return to_pil(make_grid(images.float() / 255, nrow=per_row))


def write_grid(out: Path, chunks: Iterable[torch.Tensor], per_row: int) -> None:
    """One PNG grid, per_row images a row, torchvision make_grid's defaults otherwise."""
    from gantrain.record.images import save_image_atomic

    images = torch.cat(list(chunks))
    check_grid(out, images.shape[0])
    save_image_atomic(grid_picture(images, per_row), out)


def write_stream(
    out: Path,
    chunks: Iterable[torch.Tensor],
    shape: tuple[int, ...],
    per_row: int,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """uint8 chunks (B, C, H, W), shape[0] images in all, to out.npz (key images, plus extra
    arrays), out.png (one grid) or the folder out."""
    out.parent.mkdir(parents=True, exist_ok=True)
    chunks = progress(chunks, shape[0], f"writing {out.name}")
    if out.suffix == ".npz":
        write_npz(out, chunks, shape, extra)
    elif out.suffix == ".png":
        write_grid(out, chunks, per_row)
    else:
        write_folder(out, chunks)
