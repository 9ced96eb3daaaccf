"""A sweep at a glance: each job's final grid side by side (report_grids.png), each job's FID,
or its loss where it has none, against rounds (report_curves.png), and each finished job's final
metric against a swept parameter (report_<param>.png).

Jobs of different objectives log different names (adversarial: loss_d, loss_g; mmd: mmd, loss),
so a picture has one panel per metric name, each with every job that logged it: FID where any
job has it, then the first loss of each job not drawn yet, the generator's loss beside the
critic's. Every job appears somewhere. A swept picture draws only metrics that two values of the
swept key share: one dot for one value says nothing the table does not."""

from __future__ import annotations

import json
import math
from pathlib import Path

# a job's picture without an FID shows the first of these it logged
LOSSES = ("loss_d", "loss_g", "loss", "nll", "mmd", "elbo")
HEADLINE = ("fid", *LOSSES)
PER_ROW = 4  # grids a row in report_grids.png
PARTNER = {"loss_d": "loss_g", "loss_g": "loss_d"}  # a critic's loss means little without G's
NOT_CURVES = {"round", "num_samples", "num_classes", "eval_s", "class_histogram", "modes_samples"}


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

    grids = [(label, final_grid(job), fid) for label, job, fid in jobs]
    shown = [(label, grid, fid) for label, grid, fid in grids if grid is not None]
    if not shown:
        return None
    plt = _pyplot()
    cols = min(PER_ROW, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3 * cols, 3.4 * rows), dpi=100, squeeze=False, layout="constrained"
    )
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


def panel_names(names_by_job: list[set[str]], order: tuple[str, ...]) -> list[str]:
    """The metric names to draw, one panel each: order[0] (FID) where any job has it, then each
    job's first name in order that no chosen name covers yet (or, where it has none of them,
    its first name alphabetically), so that every job with any name is drawn."""
    chosen = [order[0]] if any(order[0] in names for names in names_by_job) else []
    for names in names_by_job:
        if names and not names & set(chosen):
            first = next((k for k in order if k in names), None) or min(names)
            chosen.append(first)
            if PARTNER.get(first) in names:
                chosen.append(PARTNER[first])
    return sorted(chosen, key=lambda k: (order.index(k) if k in order else len(order), k))


def curves(
    jobs: list[tuple[str, Path]], order: tuple[str, ...] = HEADLINE
) -> dict[str, list[tuple[str, list[tuple[int, float]]]]]:
    """What report_curves.png draws: metric -> [(job label, [(round, value), ...])] for every
    job that logged the metric; the metrics as panel_names chooses them in order."""
    histories = [(label, history(job)) for label, job in jobs]
    logged = [
        {
            k
            for r in rows
            for k, v in r.items()
            if k not in NOT_CURVES and isinstance(v, int | float)
        }
        for _, rows in histories
    ]
    out = {}
    for metric in panel_names(logged, order):
        series = [
            (label, [(r["round"], r[metric]) for r in rows if metric in r and "round" in r])
            for label, rows in histories
        ]
        out[metric] = [(label, pts) for label, pts in series if pts]
    return out


def curves_picture(
    jobs: list[tuple[str, Path]], out: Path, order: tuple[str, ...] = HEADLINE
) -> Path | None:
    """One panel per metric of curves(jobs, order), one line per job in it."""
    panels = curves(jobs, order)
    if not panels:
        return None
    colour = {label: f"C{i % 10}" for i, (label, _) in enumerate(jobs)}  # a job's on every panel
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), dpi=100, squeeze=False)
    for ax, (metric, series) in zip(axes.flat, panels.items()):
        values = []
        for label, pts in series:
            sparse = metric == "fid" or len(pts) < 20  # a line through one point draws nothing
            ax.plot(
                *zip(*pts),
                marker="o" if sparse else None,
                markersize=3,
                label=label,
                color=colour[label],
            )
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


def finals(
    rows: list[dict], key: str, order: tuple[str, ...] = HEADLINE
) -> dict[str, list[tuple[str, float]]]:
    """What report_<key>.png draws: metric -> [(the job's value of key, its final metric)] for
    the finished jobs that have it (a job stopped by trainer.time_limit finished what it was
    given: equal-time comparisons need it); the metrics as panel_names chooses them."""
    done = [r for r in rows if r.get("status") in ("done", "time_limit")]
    names = [{m for m in order if m in r} for r in done]
    panels = {
        m: [(str(r.get(key)), r[m]) for r in done if m in r] for m in panel_names(names, order)
    }
    # a metric only one value of key has compares nothing along key (objective: loss_d vs loss)
    return {m: pts for m, pts in panels.items() if len({x for x, _ in pts}) > 1}


def swept_picture(
    rows: list[dict], key: str, out: Path, order: tuple[str, ...] = HEADLINE
) -> Path | None:
    """One panel per metric of finals(), the jobs' values of key along x (all of them on every
    panel, so a job missing from one panel shows as a gap there)."""
    panels = finals(rows, key, order)
    if not panels:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3), dpi=100, squeeze=False)
    for ax, (metric, pts) in zip(axes.flat, panels.items()):
        xs = list(dict.fromkeys(x for x, _ in pts))  # this panel's values only: none left empty
        ax.scatter([xs.index(x) for x, _ in pts], [v for _, v in pts])
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.set_xlabel(key)
        ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
