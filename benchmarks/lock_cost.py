"""What the run directory's lock costs: claiming and releasing RUN/.gantrain.lock, n times.

A run takes the claim once at its start and drops it at its end, so this is a per-run cost.

    python benchmarks/lock_cost.py --repeats 1000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--dir", default=None, help="where the run directory goes (a temp dir)")
    args = parser.parse_args(argv)
    from gantrain.record import lock

    with tempfile.TemporaryDirectory(dir=args.dir) as base:
        run = Path(base) / "run"
        run.mkdir()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            lock.claim(run)
            lock.release(run)
            times.append(time.perf_counter() - t0)
    ms = [t * 1000 for t in times]
    print(
        f"claim + release, {args.repeats} times: median {statistics.median(ms):.3f} ms, "
        f"min {min(ms):.3f} ms, max {max(ms):.3f} ms"
    )


if __name__ == "__main__":
    main()
