"""A sweep at a glance: each job's final grid side by side (report_grids.png) and each job's
FID, or its loss where it has none, against rounds (report_curves.png)."""

from __future__ import annotations

import json
import math
from pathlib import Path

LOSSES = ("loss", "loss_g", "nll", "mmd")  # the curve drawn when no job has an FID
PER_ROW = 4  # grids a row in report_grids.png


def _pyplot():
    from gantrain.record.charts import offscreen

    offscreen()
    import matplotlib.pyplot as plt

    return plt


def final_grid(job: Path) -> Path | None:
    """The job's last milestone grid, samples/round_*.png with the highest round."""
    grids = sorted((job / "samples").glob("round_*.png"))
    return grids[-1] if grids else None


def history(job: Path) -> list[dict]:
    """metrics.jsonl's whole rows (a killed job's file may end in half a row)."""
    rows = []
    path = job / "metrics.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def grids_picture(jobs: list[tuple[str, Path, float | None]], out: Path) -> Path | None:
    """jobs: (label, job directory, FID or None). One panel per job with a final grid."""
    from PIL import Image

    shown = [(label, final_grid(job), fid) for label, job, fid in jobs if final_grid(job)]
    if not shown:
        return None
    plt = _pyplot()
    cols = min(PER_ROW, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.4 * rows), dpi=100, squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, grid, fid) in zip(axes.flat, shown):
        ax.imshow(Image.open(grid).convert("RGB"))
        rnd = int(grid.stem.split("_")[1])
        score = f"FID {fid:.1f}" if fid is not None else "no FID"
        ax.set_title(f"{label}\nround {rnd:,}, {score}", fontsize=8)
    fig.savefig(out)
    plt.close(fig)
    return out


def curves_picture(jobs: list[tuple[str, Path]], out: Path) -> Path | None:
    """One line per job: FID against rounds where any job evaluated, else its first loss."""
    histories = [(label, history(job)) for label, job in jobs]
    keys = [k for k in ("fid", *LOSSES) if any(k in r for _, h in histories for r in h)]
    if not keys:
        return None
    metric = keys[0]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    values = []
    for label, rows in histories:
        pts = [(r["round"], r[metric]) for r in rows if metric in r and "round" in r]
        if pts:
            ax.plot(*zip(*pts), marker="o" if metric == "fid" else None, markersize=3, label=label)
            values += [v for _, v in pts]
    ax.set_xlabel("round")
    ax.set_ylabel(metric)
    if metric == "fid" and min(values) > 0 and max(values) > 10 * min(values):
        ax.set_yscale("log")  # early FIDs are in the hundreds, later ones in the tens
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
