"""`gantrain-report SWEEP_DIR`: one row per job, as a printed table, CSV, Markdown and plots;
the jobs' final grids side by side and their FID (or loss) curves."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from gantrain.errors import UserError, report
from gantrain.record.run_files import read_json
from gantrain.saved_config import read_overrides

METRICS = (
    "fid",
    "kid",
    "classes_present",
    "modes",
    "modes_kl",
    "fid_judge2",
    "modes_kl_judge2",
    "judges_agreement",
    "label_accuracy",
    "intra_fid",
    "precision",
    "recall",
    "ada_p",
    "loss_d",
    "loss_g",
    "loss",
    "nll",
    "mmd",
    "elbo",
)


def collect(sweep: Path) -> tuple[list[dict], list[str]]:
    """Rows for every job directory, and the override keys that vary between jobs."""
    rows = []
    for job in sorted((p for p in sweep.iterdir() if (p / ".hydra").is_dir()), key=_job_order):
        overrides = read_overrides(job / ".hydra" / "overrides.yaml")  # shown, never built
        summary = read_json(job / "summary.json") or {"status": "running"}
        if summary.get("status") == "running":  # or killed: nothing was left to say which
            summary["status"] = "running or killed"
        final = summary.get("final", {})
        evald = read_json(job / "eval.json") or {}
        row = {
            "job": job.name,
            "overrides": " ".join(overrides),
            "status": summary.get("status"),
            "rounds": summary.get("rounds"),
            "rounds_per_s": summary.get("rounds_per_s"),
        }
        row.update({k: v for k, v in (_split(o) for o in overrides)})
        for k in METRICS:
            value = evald.get(k, final.get(k))
            if value is not None:
                row[k] = round(float(value), 4)
        # the feature extractors' weight hashes: two numbers compare only under the same ones
        judges = evald.get("judges") or [evald.get("extractor", {})]
        if any("weights_sha256" in j for j in judges):
            row["judges"] = " ".join(j.get("weights_sha256", "?") for j in judges)
        if summary.get("error"):
            row["error"] = summary["error"]
        rows.append(row)
    swept = sorted({k for r in rows for k in r if _is_override(k, rows)})
    return rows, swept


def _job_order(p: Path):
    return (0, int(p.name)) if p.name.isdigit() else (1, p.name)


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def _is_override(key: str, rows: list[dict]) -> bool:
    in_overrides = any(key == _split(o)[0] for r in rows for o in r["overrides"].split())
    return in_overrides and len({str(r.get(key)) for r in rows}) > 1


def _columns(rows: list[dict], swept: list[str]) -> list[str]:
    cols = ["job", *swept, "status", "rounds", "rounds_per_s"]
    cols += [m for m in METRICS if any(m in r for r in rows)]
    return cols + (["error"] if any("error" in r for r in rows) else [])


def markdown(rows: list[dict], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], swept: list[str], out: Path) -> list[Path]:
    """One PNG per swept parameter: the finished jobs' final metrics against it, a panel per
    metric (FID where any job has it, then each other job's first logged loss)."""
    from gantrain.record.report_pictures import swept_picture

    paths = []
    for key in swept:
        path = swept_picture(rows, key, out / f"report_{key.replace('/', '_')}.png")
        if path is None:
            print(
                f"no {key} picture: no metric is shared by two values of {key} (the table lists them)"
            )
        paths.append(path)
    return [p for p in paths if p is not None]


def _pictures(sweep: Path, rows: list[dict], swept: list[str]) -> list[Path]:
    """report_grids.png and report_curves.png, each where there is something to draw."""
    from gantrain.record.report_pictures import curves_picture, grids_picture

    jobs = [(label, sweep / r["job"]) for label, r in zip(_labels(rows, swept), rows)]
    grids = grids_picture(
        [(*j, r.get("fid")) for j, r in zip(jobs, rows)], sweep / "report_grids.png"
    )
    curves = curves_picture(jobs, sweep / "report_curves.png")
    return [p for p in (grids, curves) if p is not None]


def _labels(rows: list[dict], swept: list[str]) -> list[str]:
    return [" ".join(f"{k}={r.get(k)}" for k in swept) or f"job {r['job']}" for r in rows]


def job_links(sweep: Path, rows: list[dict], swept: list[str]) -> str:
    """report.md's list of the jobs: each one's directory and final grid, linked."""
    from gantrain.record.report_pictures import final_grid

    lines = ["\n## Jobs\n"]
    for label, r in zip(_labels(rows, swept), rows):
        grid = final_grid(sweep / r["job"])
        shown = f": [final grid]({r['job']}/samples/{grid.name})" if grid else ": no grid"
        lines.append(f"- [job {r['job']}]({r['job']}/){' ' + label if swept else ''}{shown}")
    return "\n".join(lines) + "\n"


USAGE = """usage: gantrain-report SWEEP_DIR

Summarise a sweep (gantrain -m ...): one row per job with its swept keys, status, rounds,
rounds/s and final metrics, printed as a Markdown table and written to SWEEP_DIR/report.md and
report.csv, with the jobs' final grids (report_grids.png), their FID or loss curves
(report_curves.png) and one plot per swept key (report_<key>.png).

  SWEEP_DIR   an outputs/multirun/<date>/<time> directory
"""


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(USAGE, end="")
        return
    try:
        if len(sys.argv) != 2:
            raise UserError(
                "usage: gantrain-report SWEEP_DIR (an outputs/multirun/<date>/<time> directory)"
            )
        sweep = Path(sys.argv[1])
        if not sweep.is_dir():
            raise UserError(
                f"{sweep} is not a directory; give a sweep directory such as outputs/multirun/<date>/<time>"
            )
        rows, swept = collect(sweep)
        if not rows:
            raise UserError(
                f"{sweep} holds no job directories (each has a .hydra/ folder); give a sweep directory"
            )
    except UserError as err:
        report(err, "gantrain-report")
        sys.exit(2)
    cols = _columns(rows, swept)
    table = markdown(rows, cols)
    print(table, end="")
    pictures = [*_pictures(sweep, rows, swept), *plot(rows, swept, sweep)]
    shown = "".join(f"\n![{p.stem}]({p.name})\n" for p in pictures)
    (sweep / "report.md").write_text(
        table + shown + job_links(sweep, rows, swept), encoding="utf-8"
    )
    with open(sweep / "report.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    for path in pictures:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
