"""gantrain-serve's page in a real headless browser: starts the server on a free port, opens
the page in Chromium (the system package: apt-get install chromium) and saves a screenshot.
Exits non-zero when the server does not answer or the browser writes no picture.

    python benchmarks/serve_screenshot.py RUN_DIR --out docs/serve.png
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, seconds: float) -> None:
    """Until url answers 200, the server exits, or the time is up (then raise)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # not listening yet: the server is still loading the run
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", default="docs/serve.png")
    parser.add_argument("--size", default="1000,900", help="the browser window, WIDTH,HEIGHT")
    parser.add_argument("--query", default="", help="appended to the page's URL")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gantrain.commands.serve",
            f"run_dir={args.run_dir}",
            "device=cpu",
            f"port={port}",
        ]
    )
    out = Path(args.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/api/info", server, 120)
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={args.size}",
                "--virtual-time-budget=20000",
                f"--screenshot={out}",
                f"http://127.0.0.1:{port}/{args.query}",
            ],
            check=True,
            timeout=180,
            capture_output=True,
        )
    finally:
        server.terminate()
        server.wait(30)
    if not out.is_file() or out.stat().st_size == 0:
        raise SystemExit(f"the browser wrote no screenshot at {out}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
