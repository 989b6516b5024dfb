"""The studio's HTTP API and page: thin routes over :class:`swerve.studio.engine.Studio`.

Every request body is read with a size bound and checked against :mod:`swerve.studio.schema`; every refusal
is a 4xx JSON ``{"error": "..."}`` with one clear line, never a traceback, and no answer holds NaN or
Infinity (a number that is not finite is sent as null and named). A page on another site must not be able to
make the studio load a model or act:

- every ``/api`` request carries the server's random token (made at start, written into the page it serves,
  so only that page knows it) in the ``X-Swerve-Token`` header, or as ``?token=`` on a GET for the links,
  pictures and event streams a browser fetches without scripts;
- requests must name this machine as their host (no DNS rebinding), and one whose ``Origin`` names another
  site is refused;
- POST bodies must be JSON (raw recipe bytes for ``/api/load``) with their own content type, which a page on
  another site cannot send without a CORS preflight that this server never grants.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from swerve.errors import SwerveError
from swerve.studio import background, gallery, perform
from swerve.studio.engine import Studio, png_bytes
from swerve.studio.finite import finite_json
from swerve.studio.jobs import Busy
from swerve.studio.models import Forbidden
from swerve.studio.recipe import Recipe, parse_recipe_bytes
from swerve.studio.schema import (
    DirectionsIn,
    ExportIn,
    FinetuneIn,
    GridIn,
    NoveltyIn,
    ProjectSketchIn,
    RefineIn,
    RewriteIn,
    SketchIn,
    StateIn,
    TrainIn,
)
from swerve.utils import json_text

STATIC = Path(__file__).parent / "static"
MAX_JSON = 256 * 1024  # a page state with 32 bends and an explicit latent fits many times over
MAX_UPLOAD = 4 * 1024 * 1024  # a kept PNG with its recipe inside is well under this
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
TOKEN_HEADER = "X-Swerve-Token"
TOKEN_SLOT = "__SWERVE_TOKEN__"  # in index.html, replaced by the server's token when the page is served
JSON_ONLY = ("application/json",)
RAW_RECIPE = ("application/octet-stream", "image/png")
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # links carry the token: never hand it to another site
    "Content-Security-Policy": "frame-ancestors 'none'",  # no framing by another site (clickjacking)
    "X-Frame-Options": "DENY",
}

M = TypeVar("M", bound=BaseModel)


class Refused(Exception):
    """A request the studio refuses, with its HTTP status and one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, limit: int, kinds: tuple[str, ...]) -> bytes:
    """The request body, refused when its content type is not one of ``kinds`` or it exceeds ``limit``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in kinds:
        raise Refused(415, f"send the body as {' or '.join(kinds)} (got {kind or 'no content type'})")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, f"request body too large: the limit is {limit:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"request body too large: the limit is {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse(request: Request, model: type[M]) -> M:
    raw = await read_body(request, MAX_JSON, JSON_ONLY)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise Refused(422, describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """Pydantic's errors as one line: ``field.path: what is wrong; ...``."""
    parts = []
    for error in exc.errors()[:3]:
        if error["type"] == "json_invalid":
            return f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def one_line(message: str, limit: int = 500) -> str:
    """A message as one line of at most ``limit`` characters (an error's text may span lines)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error(status: int, message: str) -> JSONResponse:
    return SafeJSON({"error": one_line(message)}, status_code=status)


def refusal(request: Request, token: str) -> tuple[int, str] | None:
    """Why an ``/api`` request cannot have come from the studio's own page (status, one line), or None."""
    origin = request.headers.get("origin")
    if origin is not None and origin.partition("://")[2] != request.headers.get("host", ""):
        return 403, f"requests from {origin} are refused: the studio answers only its own page"
    given = request.headers.get(TOKEN_HEADER)
    if given is None and request.method == "GET":
        given = request.query_params.get("token")
    if given is None:
        return 403, f"missing {TOKEN_HEADER}: the studio answers only the page it serves (reload it)"
    if not secrets.compare_digest(given.encode(), token.encode()):
        return 403, f"wrong {TOKEN_HEADER}: the studio was restarted or this is not its page (reload it)"
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        kinds = RAW_RECIPE if request.url.path == "/api/load" else JSON_ONLY
        if kind not in kinds:
            return 415, f"send the body as {' or '.join(kinds)} (got {kind or 'no content type'})"
    elif request.method != "GET":
        return 405, f"{request.method} is not a method the studio answers"
    return None


class SafeJSON(JSONResponse):
    """JSON with every non-finite number sent as null and named under ``"not_finite"`` (never NaN)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(finite_json(content), ensure_ascii=False, allow_nan=False).encode()


def create_app(studio: Studio, allowed_hosts: list[str] | None = None, token: str | None = None) -> FastAPI:
    """The FastAPI application serving ``studio``'s page and API; ``token`` (default: a fresh random one,
    ``app.state.token``) is what every API request must carry."""
    hidden = {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="swerve studio", default_response_class=SafeJSON, **hidden)
    app.state.token = token = token or secrets.token_urlsafe(32)

    @app.middleware("http")
    async def same_page_only(request: Request, call_next: Callable) -> Response:
        if request.url.path.startswith("/api"):
            refused = refusal(request, token)
            if refused is not None:
                return error(*refused)
        return await call_next(request)

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOCAL_HOSTS)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    page_html = (STATIC / "index.html").read_text().replace(TOKEN_SLOT, token)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return error(exc.status, exc.message)

    @app.exception_handler(SwerveError)
    async def user_error(request: Request, exc: SwerveError) -> JSONResponse:
        status = 403 if isinstance(exc, Forbidden) else 409 if isinstance(exc, Busy) else 400
        return error(status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]]
        return error(422, "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        return error(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html, headers=PAGE_HEADERS)

    # response_model=None: an answer reaches SafeJSON as it is, so a non-finite number in it is named there
    # (FastAPI's own serialisation would turn it into null without a word).
    @app.get("/api/models", response_model=None)
    async def models() -> dict[str, Any]:
        listing = await run_in_threadpool(studio.models.listing)
        return {"models": listing, "start": studio.start_model}

    @app.get("/api/model", response_model=None)
    async def model(id: str) -> dict[str, Any]:
        return await run_in_threadpool(studio.info, id)

    @app.post("/api/render", response_model=None)
    async def render(request: Request) -> Response:
        state = await parse(request, StateIn)
        picture, _ = await run_in_threadpool(studio.picture, state)
        return Response(png_bytes(picture), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.post("/api/grid", response_model=None)
    async def grid(request: Request) -> Response:
        body = await parse(request, GridIn)
        picture = await run_in_threadpool(studio.grid, body.state, body.n)
        return Response(png_bytes(picture), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.post("/api/strings", response_model=None)
    async def text_strings(request: Request) -> dict[str, Any]:  # a text model's list (static/text.js)
        body = await parse(request, GridIn)
        return await run_in_threadpool(studio.strings, body.state, body.n)

    @app.post("/api/sketch", response_model=None)
    async def sketch(request: Request) -> Response:
        """The sketch pad's drawing rendered through a translation model with the page's bends."""
        from swerve.studio.sketch import render_sketch

        body = await parse(request, SketchIn)
        picture = await run_in_threadpool(render_sketch, studio, body)
        return Response(png_bytes(picture), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.post("/api/sketch/keep", response_model=None)
    async def keep_sketch(request: Request) -> dict[str, Any]:
        """Keep the rendered sketch: picture and recipe (which carries the drawing) in the output folder."""
        from swerve.studio.sketch import keep_sketch

        body = await parse(request, SketchIn)
        kept = await run_in_threadpool(keep_sketch, studio, body)
        kept["gallery_id"] = await run_in_threadpool(gallery.record_keep, project, studio, kept)
        return kept

    @app.post("/api/recipe", response_model=None)
    async def recipe(request: Request) -> dict[str, Any]:
        state = await parse(request, StateIn)
        made = await run_in_threadpool(studio.recipe, state)
        return made.to_dict()

    @app.post("/api/directions", response_model=None)
    async def directions(request: Request) -> dict[str, Any]:
        body = await parse(request, DirectionsIn)
        found = await run_in_threadpool(studio.directions, body.model, body.layer, body.k)
        return {"layer": found.layer, "explained": found.explained.tolist(), "k": len(found.sigma)}

    @app.post("/api/measure", response_model=None)
    async def measure(request: Request, layer: str = Query("conv:0", min_length=1, max_length=200)) -> dict:
        state = await parse(request, StateIn)
        measured = await run_in_threadpool(studio.measure, state, layer)
        project.remember(await run_in_threadpool(studio.recipe, state), measured)  # kept with the picture
        return measured

    @app.post("/api/refine", response_model=None)
    async def refine(request: Request) -> dict[str, Any]:
        body = await parse(request, RefineIn)
        return await run_in_threadpool(studio.refine, body)

    @app.post("/api/keep", response_model=None)
    async def keep(request: Request) -> dict[str, Any]:
        state = await parse(request, StateIn)
        kept = await run_in_threadpool(studio.keep, state)
        kept["gallery_id"] = await run_in_threadpool(gallery.record_keep, project, studio, kept)
        return kept

    @app.get("/api/files/{name}", response_model=None)
    async def files(name: str) -> FileResponse:
        try:
            path = studio.kept_file(name)
        except FileNotFoundError:
            raise Refused(404, f"no kept file {name}") from None
        return FileResponse(path, filename=name)

    @app.post("/api/load", response_model=None)
    async def load_recipe(request: Request) -> dict[str, Any]:
        """A recipe uploaded as JSON or as a kept PNG; answers the page state that shows it again."""
        raw = await read_body(request, MAX_UPLOAD, RAW_RECIPE)
        return await run_in_threadpool(page_state, parse_recipe_bytes(raw))

    def page_state(recipe: Recipe) -> dict[str, Any]:
        """The page state that shows ``recipe`` again, and the recipe."""
        state = recipe.studio or {
            "model": recipe.bundle,
            "latent": {"seed": recipe.seed or 0, "z": recipe.z},
            "label": recipe.label,
            "bends": recipe.bends,
            "blend": recipe.blend,
            "glitch": recipe.glitch,
        }
        if recipe.sketch is not None:
            raise Refused(422, "this recipe is a kept sketch (its drawing translated), not a latent to open")
        if recipe.offsets and not recipe.studio:
            raise Refused(422, "this recipe has layer offsets but no studio state to show them with")
        try:
            checked = StateIn.model_validate(state)
        except ValidationError as exc:
            raise Refused(422, f"the recipe's state is not valid: {describe(exc)}") from None
        studio.recipe(checked)  # refuse models outside the allowed roots now
        return {"state": checked.model_dump(by_alias=True), "recipe": recipe.to_dict()}

    project = gallery.register(app, studio, parse, page_state)
    perform.register(app, studio, parse)

    # Each background job: its request body, and the function that checks it and starts the job.
    job_kinds = {
        "/api/jobs": (ExportIn, background.export),
        "/api/novelty": (NoveltyIn, background.novelty),
        "/api/train": (TrainIn, background.train),
        "/api/rewrite": (RewriteIn, background.rewrite),
        "/api/finetune": (FinetuneIn, background.finetune),
        "/api/sketch/project": (ProjectSketchIn, background.project_sketch),
    }

    def job_route(schema: type, start_job: Callable[[Studio, Any], Any]) -> Callable:
        async def start(request: Request) -> dict[str, Any]:
            body = await parse(request, schema)
            job = await run_in_threadpool(start_job, studio, body)
            return job.snapshot()

        return start

    for path, (schema, start_job) in job_kinds.items():
        app.post(path, response_model=None)(job_route(schema, start_job))

    @app.get("/api/jobs", response_model=None)
    async def list_jobs() -> dict[str, Any]:
        return {"jobs": [job.snapshot() for job in studio.jobs.all()]}

    def find_job(job_id: str):  # noqa: ANN202
        job = studio.jobs.get(job_id)
        if job is None:
            raise Refused(404, f"no job {job_id}")
        return job

    @app.get("/api/jobs/{job_id}", response_model=None)
    async def job_status(job_id: str) -> dict[str, Any]:
        job = find_job(job_id)
        return job.snapshot(with_result=True)

    @app.post("/api/jobs/{job_id}/cancel", response_model=None)
    async def cancel_job(job_id: str) -> dict[str, Any]:
        job = find_job(job_id)
        job.cancel()
        return job.snapshot()

    @app.get("/api/jobs/{job_id}/events", response_model=None)
    async def job_events(job_id: str) -> StreamingResponse:
        job = find_job(job_id)

        async def stream() -> AsyncIterator[str]:
            seen = -1
            while True:
                version = await run_in_threadpool(job.wait_change, seen, 10.0)
                if version == seen:
                    yield ": still working\n\n"  # a comment keeps proxies and the browser from timing out
                    continue
                seen = version
                # the snapshot itself says whether this is the last event: reading job.finished
                # afterwards could end the stream on a "running" event the job has just outgrown
                snapshot = job.snapshot(with_result=True)
                yield f"event: progress\ndata: {json_text(snapshot)}\n\n"
                if snapshot["state"] != "running":
                    return
                await asyncio.sleep(0.05)  # at most 20 events a second

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    return app
