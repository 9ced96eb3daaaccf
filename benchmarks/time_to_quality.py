"""Quality against training time, under both judges: trains one run with a milestone checkpoint
every --every rounds (all kept), then scores each milestone with `gantrain-eval` (FID under
each judge, and for Stacked MNIST modes, KL and per-channel confidence under each).

Minutes are rounds / --rate, a rate in rounds/s measured on a quiet machine (a busy one slows
the wall clock, not what a round learns); without --rate, the run's own log timestamps.

    OMP_NUM_THREADS=2 python benchmarks/time_to_quality.py --name dcgan28 --rounds 8000 \
        --every 1000 --rate 12.5 -- dataset.root=../shared/data/mnist-subset

Writes RUN/curve.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

from common import cpu_model

KEYS = (
    "fid",
    "fid_judge2",
    "modes",
    "modes_judge2",
    "modes_kl",
    "modes_kl_judge2",
    "confidence",
    "confidence_judge2",
    "judges_agreement",
    "judges_disagree",
)
STAMP = re.compile(r"^\[(\S+ \S+?),\d+\].* round (\d+)/")


def script(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def train(run: Path, rounds: int, every: int, overrides: list[str]) -> None:
    milestones = ",".join(str(r) for r in range(every, rounds + 1, every))
    args = [
        script("gantrain"),
        *overrides,
        f"trainer.rounds={rounds}",
        f"trainer.sample_at=[{milestones}]",
        f"trainer.keep_checkpoints={rounds // every}",
        "eval.at=[]",
        "device=cpu",
        f"hydra.run.dir={run}",
    ]
    if not (run / "checkpoints" / f"round_{rounds:06d}.pt").is_file():
        subprocess.run(args, check=True)


def log_seconds(run: Path) -> dict[int, float]:
    """round -> seconds since the first logged round, from the run's train.log."""
    seen = {}
    for line in (run / "train.log").read_text().splitlines():
        m = STAMP.match(line)
        if m:
            seen[int(m.group(2))] = dt.datetime.fromisoformat(m.group(1)).timestamp()
    first = min(seen.values()) if seen else 0.0
    return {r: t - first for r, t in seen.items()}


def score(run: Path, checkpoint: Path, extra: list[str]) -> dict:
    out = run / f"eval-{checkpoint.stem}.json"
    if not out.is_file():
        subprocess.run(
            [
                script("gantrain-eval"),
                f"checkpoint={checkpoint}",
                f"out={out}",
                "device=cpu",
                *extra,
            ],
            check=True,
        )
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=None, help="quiet rounds/s for the minutes")
    ap.add_argument("--out", default="benchmarks/results/runs")
    ap.add_argument("--eval", nargs="*", default=[], help="gantrain-eval overrides")
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    run = Path(a.out) / a.name
    train(run, a.rounds, a.every, a.overrides)
    seconds = log_seconds(run)
    rows = []
    for r in range(a.every, a.rounds + 1, a.every):
        got = score(run, run / "checkpoints" / f"round_{r:06d}.pt", a.eval)
        minutes = r / a.rate / 60 if a.rate else seconds.get(r, float("nan")) / 60
        rows.append({"round": r, "minutes": round(minutes, 2), **{k: got.get(k) for k in KEYS}})
    record = {
        "name": a.name,
        "overrides": a.overrides,
        "rate": a.rate,
        "cpu": cpu_model(),
        "rows": rows,
    }
    (run / "curve.json").write_text(json.dumps(record, indent=1))
    cols = [k for k in ("round", "minutes", *KEYS) if any(row[k] is not None for row in rows)]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in rows:
        print(
            "| "
            + " | ".join(
                f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in cols
            )
            + " |"
        )


if __name__ == "__main__":
    main()
