"""gantrain's one image decoder: an image file -> uint8 (channels, size, size), as every reader
of images (image folders, CelebA, Hugging Face datasets, gantrain-pack) sees it.

- Square, by one of three fits: crop (default) scales the shorter side to size and cuts out the
  centre, computed on the source, so only the centred square (and the few pixels its resampling
  filter reaches) is ever converted and resampled: a 1 x 150000 strip costs kilobytes, not the
  gigabytes its upscaled copy would; pad scales the longer side to size and centres the image
  on the background; stretch scales each side to size. The resampling filter is named
  (FILTERS). JPEGs decode at a reduced scale (draft) that still covers size.
- Bounded: an image of more than MAX_PIXELS pixels is refused from its header, before any pixel
  is decoded (TooLarge); readers skip it with a counted warning.
- 16-bit greyscale (PNG modes I;16, I;16B, I) keeps its high byte (value >> 8), so mid-grey stays
  mid-grey; 48/64-bit colour PNGs PIL itself reads as their high bytes.
- Transparency (RGBA, LA, palette with a transparent colour) is composited on BACKGROUND, white,
  so what shows is what a viewer shows, whatever colour the transparent pixels hide.
- EXIF orientation is applied: a portrait photo stays upright.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import numpy as np
import torch
from PIL import Image, ImageOps

from gantrain.kinds import NOT_A_FLAG, Choice

# PIL's own default bound (about 9459 x 9459): decoding one costs ~270 MB as RGB; above it, PIL
# warns of a decompression bomb, and at twice it refuses to open the file
MAX_PIXELS = 89_478_485
# the most bytes read of one image held inside another file (an archive member): an image of
# MAX_PIXELS pixels compresses below this, and a decompression bomb is cut off here
MAX_FILE_BYTES = 256 * 2**20
BACKGROUND = (255, 255, 255)
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
EXIF_ORIENTATION = 0x0112
R = Image.Resampling
# name -> (Pillow's filter, its support: how many source pixels per output pixel it reaches)
FILTERS = {
    "nearest": (R.NEAREST, 0.5),
    "box": (R.BOX, 0.5),
    "bilinear": (R.BILINEAR, 1.0),
    "hamming": (R.HAMMING, 1.0),
    "bicubic": (R.BICUBIC, 2.0),
    "lanczos": (R.LANCZOS, 3.0),
}
Fit = Annotated[Literal["crop", "pad", "stretch"], NOT_A_FLAG]
if TYPE_CHECKING:
    Filter = str  # the names of FILTERS, checked by the schema at run time
else:
    Filter = Choice(*FILTERS)
# the images refused here never reach PIL's decoder: its warning about them would only repeat
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class TooLarge(Exception):
    """An image with more pixels than MAX_PIXELS; not decoded."""


@dataclass(frozen=True)
class Recipe:
    """How a picture becomes a square: the fit, the resampling filter and the colour that
    transparency (and pad's margins) shows."""

    fit: str = "crop"
    filter: str = "bicubic"
    background: tuple[int, ...] = BACKGROUND

    def as_dict(self) -> dict:
        return {"filter": self.filter, "fit": self.fit, "background": list(self.background)}


PLAIN = Recipe()  # image folders' default: centre crop, bicubic, on white
Source = Path | str | bytes | io.IOBase  # a file's path, its bytes, or an open binary file


def open_checked(path: Source) -> Image.Image:
    """The image's header (PIL decodes lazily), refused with TooLarge above MAX_PIXELS."""
    if isinstance(path, bytes | bytearray | memoryview):
        path = io.BytesIO(path)
    try:
        img = Image.open(cast(Any, path))  # a path, or a file object PIL reads bytes from
    except Image.DecompressionBombError as err:
        raise TooLarge(str(err)) from None
    if img.width * img.height > MAX_PIXELS:
        img.close()
        raise TooLarge(f"{img.width} x {img.height} pixels")
    return img


def header_status(path: Source) -> str:
    """ "ok", "too large" or "unreadable", from the header alone (cheap)."""
    try:
        with open_checked(path) as img:
            return "ok" if img.width > 0 and img.height > 0 else "unreadable"
    except TooLarge:
        return "too large"
    except Exception:  # PIL raises many types for a bad file; each means "cannot read it"
        return "unreadable"


def _eight_bit(img: Image.Image) -> Image.Image:
    """16-bit greyscale -> L by the high byte; PIL's own convert would clip at 255 (white)."""
    if img.mode not in SIXTEEN_BIT:
        return img
    arr = np.asarray(img).astype(np.int64) >> 8  # (H, W); I holds 16-bit PNG values too
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "L")


def _opaque(img: Image.Image, background: tuple = BACKGROUND) -> Image.Image:
    """Transparent pixels composited on background."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("LA", "PA", "La"):
        img = img.convert("RGBA")
    if img.mode not in ("RGBA", "RGBa"):
        return img
    ground = Image.new("RGBA", img.size, (*background, 255))
    return Image.alpha_composite(ground, img.convert("RGBA")).convert("RGB")


def _centre_box(w: int, h: int, size: int) -> tuple[float, float, float, float]:
    """The source region (left, top, right, bottom) that becomes the size x size square: the
    centre crop of the image scaled so its shorter side is size (the scaled sides rounded, as
    a resize to whole pixels would)."""
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    left, top = (new_w - size) // 2, (new_h - size) // 2
    sx, sy = new_w / w, new_h / h
    return left / sx, top / sy, (left + size) / sx, (top + size) / sy


def square(img: Image.Image, size: int, channels: int, recipe: Recipe = PLAIN) -> torch.Tensor:
    """An opened PIL image -> uint8 (channels, size, size), fitted and resampled by recipe, as
    described above."""
    mode = "L" if channels == 1 else "RGB"
    img.draft(mode, (size, size))  # JPEG decodes at a reduced scale that still covers size
    if img.getexif().get(EXIF_ORIENTATION, 1) != 1:
        img = ImageOps.exif_transpose(img)
    if recipe.fit == "crop":
        img = _cropped(img, size, mode, recipe)
    else:
        img = _whole(img, size, mode, recipe)
    arr = np.asarray(img, dtype=np.uint8).reshape(size, size, channels)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()  # (C, S, S)


def _plain(img: Image.Image, mode: str, recipe: Recipe) -> Image.Image:
    """8 bits, opaque, in mode (L or RGB)."""
    return _opaque(_eight_bit(img), recipe.background).convert(mode)


def _cropped(img: Image.Image, size: int, mode: str, recipe: Recipe) -> Image.Image:
    pil_filter, support = FILTERS[recipe.filter]
    box = _centre_box(img.width, img.height, size)
    # the cut keeps a margin around the box: the filter reaches 2 * support output pixels
    # beyond it, and Pillow's two-pass resampling of a cut narrower than about one output size
    # beyond the box differs from that of the whole image; with this margin the square matches
    # the whole image's resize to within one level (tests/data/test_decode.py)
    reach = size + math.ceil(2 * support * max(1.0, (box[2] - box[0]) / size)) + 2
    cut = (
        max(0, math.floor(box[0]) - reach),
        max(0, math.floor(box[1]) - reach),
        min(img.width, math.ceil(box[2]) + reach),
        min(img.height, math.ceil(box[3]) + reach),
    )
    img = _plain(img.crop(cut), mode, recipe)  # (cut's width, height): all that is resampled
    inner = (box[0] - cut[0], box[1] - cut[1], box[2] - cut[0], box[3] - cut[1])
    return img.resize((size, size), pil_filter, box=inner)


def _whole(img: Image.Image, size: int, mode: str, recipe: Recipe) -> Image.Image:
    """stretch: each side scaled to size; pad: the longer side scaled to size, the image
    centred on the background."""
    pil_filter = FILTERS[recipe.filter][0]
    img = _plain(img, mode, recipe)
    if recipe.fit == "stretch":
        return img.resize((size, size), pil_filter)
    scale = size / max(img.width, img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    ground = Image.new("RGB", (size, size), recipe.background).convert(mode)  # grey by luma
    ground.paste(img.resize((w, h), pil_filter), ((size - w) // 2, (size - h) // 2))
    return ground


def decode(path: Source, size: int, channels: int, recipe: Recipe = PLAIN) -> torch.Tensor:
    """The image at path (or in bytes / an open file) as uint8 (channels, size, size);
    TooLarge above MAX_PIXELS, PIL's own errors for a file it cannot read."""
    with open_checked(path) as img:
        return square(img, size, channels, recipe)
