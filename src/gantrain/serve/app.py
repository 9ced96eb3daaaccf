"""The HTTP API of gantrain-serve, over one loaded run; every picture is drawn by the seed rule
(models/latent.py) through the same code as gantrain-sample seeds= (cli/seeded.py), so
GET /sample.png?seed=3&class=7&truncation=0.7 holds the pixels of
gantrain-sample seeds=3 class=7 truncation=0.7 out=x.png.

  GET /                  the page (static/index.html)
  GET /api/info          the run: latent size, classes, image size, channels, weights, limits
  GET /sample.png        seed (default 0), class (optional), truncation (default 1)
  GET /grid.png          seeds (0-15, 3,17, ...), class, truncation: one grid, as gantrain-sample
  GET /interpolate.png   a, b (seeds), steps, class, truncation: the spherical path from a to b
A mistake (a bad seed, an unknown class, a parameter given twice) is HTTP 400 and an unknown
path HTTP 404, each with {"error": "one line"}: the one shape the page reads.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from gantrain.errors import UserError
from gantrain.models.latent import parse_seeds

STATIC = Path(__file__).parent / "static"
MAX_GRID = 256  # seeds one grid request may draw: a page's worth, not a data set
MAX_STEPS = 64


def _png(images: torch.Tensor, per_row: int) -> bytes:
    from gantrain.record.sample_files import grid_picture

    buffer = io.BytesIO()
    grid_picture(images, per_row).save(buffer, format="PNG")
    return buffer.getvalue()


def _class(value: str | None) -> int | str | None:
    """A class as gantrain-sample reads class=: digits are an index, other text a name."""
    if value is None or value == "":
        return None
    return int(value) if value.strip().lstrip("-").isdigit() else value


def _truncation(value: float) -> float:
    if not 0 < value <= 1:
        raise UserError(f"truncation={value} must be in (0, 1]: 1 is no truncation")
    return value


def build_app(drawer):
    """The FastAPI application serving one run through drawer (cli/seeded.py's Drawer:
    seeds(), walk() and info(), which raise UserError for a request's mistakes)."""
    from fastapi import FastAPI

    app = FastAPI(title="gantrain-serve", docs_url=None, redoc_url=None)
    _answer_mistakes(app)
    _routes(app, drawer)
    return app


def _answer_mistakes(app) -> None:
    """Every refused request is a 400 (404 for an unknown path) with {"error": one line}."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.middleware("http")
    async def _once_each(request: Request, call_next):
        # ?seed=3&seed=4 would silently draw seed 4: a query names each parameter once
        keys = [k for k, _ in request.query_params.multi_items()]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            text = f"{twice[0]} is given {keys.count(twice[0])} times; give it once"
            return JSONResponse({"error": text}, status_code=400)
        return await call_next(request)

    @app.exception_handler(HTTPException)
    def _http(request: Request, err: HTTPException):
        text = f"{request.url.path}: {err.detail}" if err.status_code == 404 else str(err.detail)
        return JSONResponse({"error": text}, status_code=err.status_code)

    @app.exception_handler(UserError)
    def _refused(_request: Request, err: UserError):
        return JSONResponse({"error": " ".join(str(err).split())}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "the request"
        text = f"{where}={first.get('input')!s}: {first.get('msg', 'invalid')}"
        if first.get("type") == "missing":
            text = f"{where} is required, e.g. ?{where}=0"
        return JSONResponse({"error": text}, status_code=400)


def _routes(app, drawer) -> None:
    """The page, its info and the three pictures."""
    from fastapi import Query
    from fastapi.responses import FileResponse, Response

    def png(images: torch.Tensor, per_row: int) -> Response:
        return Response(_png(images, per_row), media_type="image/png")

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    def info():
        return {**drawer.info(), "max_grid": MAX_GRID, "max_steps": MAX_STEPS}

    @app.get("/sample.png")
    def sample(
        seed: int = Query(0, ge=0, le=2**32 - 1),
        class_: str | None = Query(None, alias="class"),
        truncation: float = 1.0,
    ):
        return png(drawer.seeds([seed], _class(class_), _truncation(truncation)), 1)

    @app.get("/grid.png")
    def grid(
        seeds: str = "0-15",
        class_: str | None = Query(None, alias="class"),
        truncation: float = 1.0,
    ):
        try:
            chosen = parse_seeds(seeds)
        except ValueError as err:
            raise UserError(f"seeds={seeds}: {err}") from None
        if len(chosen) > MAX_GRID:
            raise UserError(f"seeds={seeds} names {len(chosen)} seeds; a grid holds {MAX_GRID}")
        images = drawer.seeds(chosen, _class(class_), _truncation(truncation))
        return png(images, max(1, round(len(chosen) ** 0.5)))  # gantrain-sample's rows

    @app.get("/interpolate.png")
    def interpolate(
        a: int = Query(ge=0, le=2**32 - 1),
        b: int = Query(ge=0, le=2**32 - 1),
        steps: int = Query(8, ge=2, le=MAX_STEPS),
        class_: str | None = Query(None, alias="class"),
        truncation: float = 1.0,
    ):
        return png(drawer.walk(a, b, steps, _class(class_), _truncation(truncation)), steps)
