"""Sample grids and the evolution picture, written atomically as PNG."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from gantrain.record.run_files import atomic


def to_grid(images: torch.Tensor) -> torch.Tensor:
    """images (B, C, H, W) in [-1, 1] -> grid (3, H', W') in [0, 1], make_grid defaults (8 per row)."""
    return make_grid(((images.detach().float().cpu() + 1) / 2).clamp(0, 1))


def to_pil(grid: torch.Tensor) -> Image.Image:
    arr = grid.mul(255).add(0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr)


def save_image_atomic(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path, "the picture") as tmp:
        image.save(tmp, format="PNG")


def save_grid(images: torch.Tensor, path: Path) -> torch.Tensor:
    grid = to_grid(images)
    save_image_atomic(to_pil(grid), path)
    return grid


def interleave_rows(inputs: torch.Tensor, outputs: torch.Tensor, per_row: int = 8) -> torch.Tensor:
    """(B, C, H, W) x2 -> (2B, C, H, W): a row of inputs, then the row of their reconstructions."""
    rows = []
    for i in range(0, inputs.shape[0], per_row):
        rows += [inputs[i : i + per_row], outputs[i : i + per_row]]
    return torch.cat(rows)


def evolution(grids: dict[int, Path], path: Path, gap: int = 8, label_h: int = 18) -> None:
    """Milestone grids side by side, each under a 'round N' label."""
    if not grids:
        return
    tiles = [(r, Image.open(p).convert("RGB")) for r, p in sorted(grids.items())]
    w = sum(t.width for _, t in tiles) + gap * (len(tiles) - 1)
    h = max(t.height for _, t in tiles) + label_h
    canvas = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    x = 0
    for rnd, tile in tiles:
        draw.text((x + 2, 3), f"round {rnd:,}", fill="black", font=font)
        canvas.paste(tile, (x, label_h))
        x += tile.width + gap
    save_image_atomic(canvas, path)
