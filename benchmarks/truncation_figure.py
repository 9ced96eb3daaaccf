"""The README's truncation figure: the same seeds of one run at psi = 1, 0.7 and 0.5 side by
side, each panel a grid as gantrain-sample seeds=... truncation=... draws it.

    python benchmarks/truncation_figure.py RUN_DIR --seeds 0-31 --out docs/truncation.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from gantrain.cli.runs import load_run
from gantrain.cli.seeded import seed_labels, seeded_images
from gantrain.models.latent import fixed_statistics, parse_seeds
from gantrain.record.sample_files import grid_picture

LABEL_HEIGHT = 22


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--seeds", default="0-31")
    parser.add_argument("--psi", default="1,0.7,0.5")
    parser.add_argument("--per-row", type=int, default=8)
    parser.add_argument("--scale", type=int, default=2, help="pixels per image pixel")
    parser.add_argument("--out", default="docs/truncation.png")
    args = parser.parse_args()
    torch.set_num_threads(2)
    run = load_run(args.run_dir, None, True, {}, torch.device("cpu"))
    model = fixed_statistics(run.model)
    seeds = parse_seeds(args.seeds)
    labels = seed_labels(run, None, seeds)
    panels = []
    for psi in (float(p) for p in args.psi.split(",")):
        grid = grid_picture(seeded_images(model, seeds, labels, psi), args.per_row)
        grid = grid.resize((grid.width * args.scale, grid.height * args.scale), Image.NEAREST)
        panel = Image.new("RGB", (grid.width, grid.height + LABEL_HEIGHT), "white")
        panel.paste(grid, (0, LABEL_HEIGHT))
        ImageDraw.Draw(panel).text((6, 4), f"truncation psi = {psi:g}", fill="black")
        panels.append(panel)
    gap = 12
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    figure = Image.new("RGB", (width, panels[0].height), "white")
    for i, panel in enumerate(panels):
        figure.paste(panel, (i * (panel.width + gap), 0))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out)
    print(f"wrote {args.out} ({run.weights} weights, round {run.payload.get('round')})")


if __name__ == "__main__":
    main()
