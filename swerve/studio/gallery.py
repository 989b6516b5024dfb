"""The studio's gallery and rating routes, over the project store (:mod:`swerve.look.store`).

Every kept picture also goes into ``<out>/swerve.db`` with a thumbnail, the measures the page last took of
that exact recipe and the model it came from, so the gallery shows everything ever kept, across restarts.
Rating sessions are blind: a rater sees pictures by session and position only, never a picture's id, model
or method. The routes live under ``/api`` and so carry the same token and request checks as every other.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from swerve.errors import ConfigError
from swerve.look.rating import new_session, thumbnail_png
from swerve.look.store import Store, default_path, recipe_differences
from swerve.studio.engine import Studio
from swerve.studio.recipe import Recipe
from swerve.studio.schema import Strict

NOT_MEASURED = "not measured before it was kept (measure it, then keep)"
RaterName = Field(..., min_length=1, max_length=100)


class SessionIn(Strict):
    """A rating session over the gallery's kept pictures."""

    kind: Literal["scores", "pairwise"] = "scores"
    name: str | None = Field(None, min_length=1, max_length=100)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    pairs: int | None = Field(None, ge=1, le=100_000)


class RateIn(Strict):
    """One answer: novelty and value (1 to 5), or a pairwise choice (0 left, 1 right), or a skip."""

    rater: str = RaterName
    position: int = Field(..., ge=0, le=10**6)
    novelty: int | None = Field(None, ge=1, le=5)
    value: int | None = Field(None, ge=1, le=5)
    choice: int | None = Field(None, ge=0, le=1)
    skip: bool = False


class Project:
    """The store of one studio's output folder, made on the first write (reading an absent one finds
    nothing), and the measures the page took lately, by recipe, to keep with a picture."""

    def __init__(self, out_dir: Path) -> None:
        self.path = default_path(out_dir)
        self._store: Store | None = None
        self._guard = threading.Lock()
        self._measured: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def store(self, create: bool = True) -> Store | None:
        with self._guard:
            if self._store is None and (create or self.path.is_file()):
                self._store = Store(self.path)
            return self._store

    def remember(self, recipe: Recipe, measured: dict[str, Any]) -> None:
        with self._guard:
            self._measured[recipe_key(recipe)] = measured
            while len(self._measured) > 64:
                self._measured.popitem(last=False)

    def measured(self, recipe: Recipe) -> dict[str, Any] | None:
        with self._guard:
            return self._measured.get(recipe_key(recipe))


def recipe_key(recipe: Recipe) -> str:
    data = {k: v for k, v in recipe.to_dict().items() if k != "studio"}  # the pixels, not the page
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def method_of(recipe: dict[str, Any]) -> str:
    """What made a picture, from its recipe: its edits joined by ``+``, or ``sample``."""
    studio = recipe.get("studio") or {}
    edits = [name for name in ("bends", "blend", "glitch", "creative", "offsets") if recipe.get(name)]
    if studio.get("pca") and studio["pca"].get("amounts"):
        edits.append("pca")
    return "+".join(e.rstrip("s") for e in edits) or "sample"


def record_keep(project: Project, studio: Studio, kept: dict[str, Any]) -> int:
    """Store a picture the studio just kept (its files are written): answers its gallery id."""
    recipe = Recipe.from_dict(kept["recipe"])
    bundle = studio.models.get(recipe.bundle)
    config = json.dumps(bundle.config_dict(), sort_keys=True, default=str)
    provenance = {
        "bundle": recipe.bundle,
        "name": bundle.name,
        "config_sha256": hashlib.sha256(config.encode()).hexdigest(),
        "files": [kept["png"], kept["json"]],
    }
    from PIL import Image

    with Image.open(studio.out_dir / kept["png"]) as picture:
        thumb = thumbnail_png(picture, 256)
    measured = project.measured(recipe)
    values = dict(measured["values"]) if measured else {}
    missing = {} if measured else {"*": NOT_MEASURED}
    store = project.store()
    return store.add_picture(
        "keep",
        kept["png"],
        model=bundle.name or recipe.bundle,
        method=method_of(kept["recipe"]),
        recipe=kept["recipe"],
        thumbnail=thumb,
        measures=values,
        missing=missing,
        provenance=provenance,
    )


def listed(picture: dict[str, Any], token_url: Callable[[str], str]) -> dict[str, Any]:
    """A picture as the gallery sends it: no recipe (the compare and open routes have it), a thumbnail URL."""
    shown = {k: picture[k] for k in ("id", "name", "model", "method", "created", "measures", "missing")}
    shown["thumb"] = token_url(f"/api/gallery/{picture['id']}/thumb")
    return shown


def register(app: FastAPI, studio: Studio, parse: Callable, page_state: Callable[[Recipe], dict]) -> Project:
    """Add the gallery and rating routes to ``app``; answers the project they share with the keep route."""
    project = Project(studio.out_dir)
    app.state.project = project

    def token_url(path: str) -> str:
        return f"{path}?token={app.state.token}"

    def need(create: bool = False) -> Store:
        store = project.store(create)
        if store is None:
            raise HTTPException(404, f"nothing kept yet: no {project.path.name} in {studio.out_dir}")
        return store

    def found(store: Store, picture_id: int) -> dict[str, Any]:
        try:
            return store.picture(picture_id)
        except ConfigError:
            raise HTTPException(404, f"no picture {picture_id} in the gallery") from None

    @app.get("/api/gallery", response_model=None)
    async def gallery(
        model: str | None = Query(None, max_length=4096),
        method: str | None = Query(None, max_length=200),
        session: int | None = Query(None, ge=0),
        page: int = Query(0, ge=0, le=10**6),
        per_page: int = Query(48, ge=1, le=500),
    ) -> dict[str, Any]:
        store = project.store(create=False)
        if store is None:
            return {"total": 0, "page": page, "per_page": per_page, "pictures": [], "facets": {}}

        def read() -> dict[str, Any]:
            found = store.gallery(model=model, method=method, session=session, page=page, per_page=per_page)
            found["pictures"] = [listed(p, token_url) for p in found["pictures"]]
            found["facets"] = {**store.facets(), "sessions": [s["id"] for s in store.sessions()]}
            return found

        return await run_in_threadpool(read)

    @app.get("/api/gallery/compare", response_model=None)
    async def compare(a: int = Query(..., ge=0), b: int = Query(..., ge=0)) -> dict[str, Any]:
        store = need()
        first, second = found(store, a), found(store, b)
        return {
            "a": {**listed(first, token_url), "recipe": first["recipe"]},
            "b": {**listed(second, token_url), "recipe": second["recipe"]},
            "differences": recipe_differences(first["recipe"] or {}, second["recipe"] or {}),
        }

    @app.get("/api/gallery/{picture_id}/thumb", response_model=None)
    async def thumb(picture_id: int) -> Response:
        store = need()
        found(store, picture_id)
        data = store.thumbnail(picture_id)
        if data is None:
            raise HTTPException(404, f"picture {picture_id} has no thumbnail")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/api/gallery/{picture_id}/open", response_model=None)
    async def reopen(picture_id: int) -> dict[str, Any]:
        picture = found(need(), picture_id)
        if picture["recipe"] is None:
            raise HTTPException(
                409, f"picture {picture_id} has no recipe to open (it came from {picture['kind']})"
            )
        return await run_in_threadpool(page_state, Recipe.from_dict(picture["recipe"]))

    @app.post("/api/gallery/{picture_id}/delete", response_model=None)
    async def delete(picture_id: int) -> dict[str, Any]:
        store = need()
        found(store, picture_id)
        await run_in_threadpool(store.delete, picture_id)
        return {"id": picture_id, "deleted": True}

    @app.post("/api/gallery/{picture_id}/undo", response_model=None)
    async def undo(picture_id: int) -> dict[str, Any]:
        store = need()
        found(store, picture_id)
        await run_in_threadpool(store.undelete, picture_id)
        return {"id": picture_id, "deleted": False}

    # --- rating ------------------------------------------------------------------------------------------
    def session_of(store: Store, session_id: int) -> dict[str, Any]:
        try:
            return store.session(session_id)
        except ConfigError:
            raise HTTPException(404, f"no rating session {session_id}") from None

    def next_item(store: Store, session_id: int, rater: str) -> dict[str, Any]:
        """Where ``rater`` is in the session and the item to show them next (None when done)."""
        session = session_of(store, session_id)
        progress = store.progress(session_id, store.rater(rater))
        item = None
        if progress["next"] is not None:
            position = progress["next"]
            sides = ["left", "right"] if session["kind"] == "pairwise" else ["left"]
            item = {
                "position": position,
                "images": [token_url(f"/api/rate/{session_id}/image/{position}/{side}") for side in sides],
            }
        shown = {k: session[k] for k in ("id", "name", "kind", "items")}
        return {"session": shown, "rater": rater, "progress": progress, "item": item}

    @app.get("/api/rate/sessions", response_model=None)
    async def sessions() -> dict[str, Any]:
        store = project.store(create=False)
        listed_sessions = [] if store is None else await run_in_threadpool(store.sessions)
        keys = ("id", "name", "kind", "items", "created")
        return {"sessions": [{k: s[k] for k in keys} for s in listed_sessions]}

    @app.post("/api/rate/sessions", response_model=None)
    async def start_session(request: Request) -> dict[str, Any]:
        body = await parse(request, SessionIn)
        store = need()  # a session is made of kept pictures: with none kept there is no store to write
        made = await run_in_threadpool(
            new_session, store, "gallery", body.kind, body.name, body.seed, body.pairs
        )
        return {k: v for k, v in store.session(made).items() if k != "source"}

    @app.get("/api/rate/{session_id}/next", response_model=None)
    async def upcoming(session_id: int, rater: str = Query(..., min_length=1, max_length=100)) -> dict:
        return await run_in_threadpool(next_item, need(), session_id, rater)

    @app.get("/api/rate/{session_id}/image/{position}/{side}", response_model=None)
    async def image(session_id: int, position: int, side: Literal["left", "right"]) -> Response:
        store = need()
        session_of(store, session_id)
        try:
            item = store.item(session_id, position)
        except ConfigError:
            raise HTTPException(404, f"session {session_id} has no item {position}") from None
        picture_id = item["left_id"] if side == "left" else item["right_id"]
        if picture_id is None:
            raise HTTPException(404, f"item {position} of session {session_id} has one picture")
        data = store.thumbnail(picture_id)
        if data is None:
            raise HTTPException(404, "this picture has no thumbnail")
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/api/rate/{session_id}/rate", response_model=None)
    async def submit(session_id: int, request: Request) -> dict[str, Any]:
        body = await parse(request, RateIn)
        store = need()
        session_of(store, session_id)

        def save() -> dict[str, Any]:
            rater = store.rater(body.rater)
            scores = body.model_dump(include={"novelty", "value", "choice"})
            store.rate(session_id, rater, body.position, skipped=body.skip, **scores)
            return next_item(store, session_id, body.rater)

        return await run_in_threadpool(save)

    return project
