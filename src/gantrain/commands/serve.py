"""`gantrain-serve`: a local web page to draw samples from one run, and its HTTP API
(serve/app.py). Binds 127.0.0.1 unless host= says otherwise: the page is for the person at the
machine, and it has no authentication."""

from __future__ import annotations

import logging
from typing import Annotated

from annotated_types import Ge, Le

from gantrain.cli.arguments import run
from gantrain.cli.runs import load_run
from gantrain.errors import UserError
from gantrain.kinds import DeviceKind, Flag, PathText, Says, Text
from gantrain.schema import Schema

log = logging.getLogger("gantrain")
Port = Annotated[int, Ge(1), Le(65535), Says("a TCP port, 1..65535")]


def _serving_packages():
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise UserError(
            'gantrain-serve needs FastAPI and uvicorn: pip install "gantrain[serve]"'
        ) from None
    return uvicorn


def serve(
    run_dir: PathText | None = None,
    checkpoint: PathText | None = None,
    ema: Flag = True,
    device: DeviceKind = "auto",
    host: Text = "127.0.0.1",
    port: Port = 8000,
) -> str:
    """Serve the run's page until interrupted (Ctrl-C), as conf/serve.yaml describes each key."""
    from gantrain.cli.seeded import Drawer
    from gantrain.hardware.device import resolve_device
    from gantrain.serve.app import build_app

    uvicorn = _serving_packages()
    loaded = load_run(run_dir, checkpoint, ema, {}, resolve_device(device))
    app = build_app(Drawer(loaded))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    log.info(
        "serving %s (%s weights) at http://%s:%d/ - Ctrl-C stops",
        loaded.checkpoint,
        loaded.weights,
        host,
        port,
    )
    try:
        server.run()
    except OSError as err:
        raise UserError(
            f"cannot listen on {host}:{port} ({err.strerror or err}): give another port="
        ) from None
    if not server.started:
        raise UserError(
            f"could not serve on {host}:{port} (is the port taken?): give another port="
        )
    return "stopped"


def schema() -> Schema:
    """gantrain-serve's keys are serve()'s parameters."""
    return Schema({"": (serve,)})


def main() -> None:
    run("serve", schema(), lambda keys: serve(**keys))


if __name__ == "__main__":
    main()
