"""The one image decoder: 16-bit, transparency, EXIF orientation, bounded cost, the pixel bound."""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantrain.data import decode as dec
from gantrain.data import image_files, image_folder


def test_sixteen_bit_grey_keeps_its_level(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((40, 30), 125 * 257, np.uint16)).save(path)
    assert Image.open(path).mode.startswith("I")  # the case PIL's convert("L") clips to white
    out = dec.decode(path, 16, 1)
    assert out.shape == (1, 16, 16) and abs(out.float().mean().item() - 125) <= 1
    rgb = dec.decode(path, 16, 3)
    assert rgb.shape == (3, 16, 16) and abs(rgb.float().mean().item() - 125) <= 1


def _png_rgb16(path: Path, value: int, w: int = 8, h: int = 8) -> None:
    """A 48-bit RGB PNG (16 bits a channel), which PIL can read but not write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + struct.pack(">H", value) * 3 * w
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * h))
        + chunk(b"IEND", b"")
    )


def test_sixteen_bit_colour_keeps_its_level(tmp_path):
    path = tmp_path / "rgb48.png"
    _png_rgb16(path, 200 * 257)
    out = dec.decode(path, 8, 3)
    assert abs(out.float().mean().item() - 200) <= 1


def test_transparency_is_composited_on_white(tmp_path):
    arr = np.zeros((20, 20, 4), np.uint8)
    arr[..., 0] = 255  # red everywhere, hidden where transparent
    arr[:, 10:, 3] = 255  # right half opaque, left half fully transparent
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    out = dec.decode(tmp_path / "a.png", 20, 3).numpy()  # (3, 20, 20)
    assert (out[:, :, :8] >= 250).all()  # white where nothing is drawn
    assert (out[0, :, 12:] >= 250).all() and (out[1:, :, 12:] <= 5).all()  # red where drawn


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)  # landscape: bright left half
    arr[:, :20] = 255
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[dec.EXIF_ORIENTATION] = 6  # the camera was turned: show rotated 90 degrees clockwise
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    out = dec.decode(tmp_path / "r.jpg", 20, 1)[0].float().numpy()  # the 20x20 centre of 20x40
    # upright, the picture is 20 wide and 40 tall with its bright half on top: the centre crop
    # shows bright above dark (unrotated it would be bright left, dark right)
    assert out[:5].mean() > 200 and out[-5:].mean() < 50


def test_square_matches_resizing_the_whole_image():
    """Cutting the centre first changes nothing a viewer could see."""
    yy, xx = np.mgrid[:300, :120]
    smooth = np.stack([np.sin(yy / 17.0), np.cos(xx / 11.0), np.sin((xx + yy) / 23.0)], -1)
    img = Image.fromarray(((smooth + 1) * 127.5).astype(np.uint8))
    for size in (16, 32, 64):
        box = dec._centre_box(*img.size, size)
        whole = np.asarray(img.resize((size, size), Image.Resampling.BICUBIC, box=box), int)
        ours = dec.square(img, size, 3).permute(1, 2, 0).numpy().astype(int)
        assert np.abs(whole - ours).max() <= 1, size


@pytest.mark.slow
def test_a_thin_strip_decodes_in_little_memory(tmp_path):
    """A 1 x 150000 PNG (a few hundred bytes) once cost gigabytes: upscaled before the crop."""
    path = tmp_path / "strip.png"
    Image.new("L", (1, 150_000), 90).save(path)
    assert path.stat().st_size < 2000
    code = (
        "import resource, sys\n"
        "from gantrain.data.decode import decode\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"out = decode({str(path)!r}, 64, 3)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps([list(out.shape), out.float().mean().item(), (after - before) >> 10]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    shape, mean, grown_mb = json.loads(done.stdout)
    assert shape == [3, 64, 64] and round(mean) == 90
    assert grown_mb < 200, done.stdout  # ru_maxrss is in KiB on Linux


def test_images_over_the_bound_are_skipped_and_counted(tmp_path, monkeypatch, caplog):
    for i in range(3):
        Image.new("RGB", (64, 64), (i, 0, 0)).save(tmp_path / f"big{i}.png")
    for i in range(2):
        Image.new("RGB", (16, 16), (0, i, 0)).save(tmp_path / f"small{i}.png")
    monkeypatch.setattr(dec, "MAX_PIXELS", 32 * 32)
    monkeypatch.setattr(image_files, "MAX_PIXELS", 32 * 32)
    assert dec.header_status(tmp_path / "big0.png") == "too large"
    with pytest.raises(dec.TooLarge):
        dec.decode(tmp_path / "big0.png", 8, 3)
    for held in (True, False):  # decoded into memory, or checked from headers to stream
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            data = image_folder.load(
                tmp_path, image_size=8, channels=3, workers=0, in_memory_max=100 if held else 0
            )
        assert len(data) == 2
        warned = [r.getMessage() for r in caplog.records if "over" in r.getMessage()]
        assert len(warned) == 1 and "skipped 3 images over 1,024 pixels" in warned[0], warned
        assert "big0.png" in warned[0]
