"""The performance view: one shared live state, rendered newest-first, streamed to a full-screen page.

The control page sends the state it shows (``POST /api/perform/state``); live sources (OSC, MIDI, the page's
microphone: :mod:`swerve.studio.live_control`) and direct control changes (``POST /api/perform/controls``) are
written into it through the mapping of :mod:`swerve.look.mapping`, the format ``swerve react`` reads. The
renderer draws only the newest state: changes that arrive while a frame is drawn are merged into the next
frame, never queued. ``/api/perform/stream`` is a WebSocket (the page's token as ``?token=``, another site's
Origin closed with 1008) that sends each new frame as a JSON header then the PNG bytes.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from pydantic import Field, ValidationError
from starlette.concurrency import run_in_threadpool

from swerve.errors import ConfigError, SwerveError
from swerve.look.mapping import (
    Binding,
    Controller,
    Mapping,
    apply_controls,
    check_targets,
    describe,
    target_bounds,
)
from swerve.studio import explore
from swerve.studio.engine import Studio, png_bytes
from swerve.studio.schema import StateIn, Strict

STATIC = Path(__file__).parent / "static"
SOURCE_PATTERN = r"^(osc:/[A-Za-z0-9_/.\-]*|midi:(cc|note):[0-9]+:[0-9]+|mic:[a-z0-9.]+)$"
TARGET_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
LEARNABLE = ("osc:", "midi:")  # learn binds the next knob or fader that moves, never the always-moving mic
WAIT_S = 2.0  # a stream wakes this often with no change, to notice a closed socket
SETTLED = 1e-4  # envelopes closer than this to their input count as still


TargetName = Annotated[str, Field(pattern=TARGET_PATTERN, max_length=250)]
SourceName = Annotated[str, Field(pattern=SOURCE_PATTERN, max_length=250)]


class ControlsIn(Strict):
    """Controls set directly (``target: value``), as a MIDI knob mapped onto them would."""

    controls: dict[TargetName, Annotated[float, Field(ge=-1e6, le=1e6)]] = Field(..., max_length=64)


class SourcesIn(Strict):
    """Source values between 0 and 1 (``mic:rms``, ``osc:/fader``, ...), fed through the mapping."""

    values: dict[SourceName, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(..., max_length=64)


class LearnIn(Strict):
    """Bind the next OSC address or MIDI control that moves (or ``source`` given here) to ``target``."""

    target: TargetName
    range: tuple[float, float] | None = None
    source: SourceName | None = None


def written(state: dict[str, Any], controls: dict[str, float], bundle: Any) -> dict[str, Any]:
    """``state`` with ``controls`` written in for ``bundle`` (its classes, its seeds' latents)."""

    def seed_latent(seed: int) -> Any:
        return explore.seed_latent(bundle, seed)

    return apply_controls(state, controls, num_classes=bundle.num_classes, seed_latent=seed_latent)


@dataclass
class Frame:
    """A rendered picture and the change it shows."""

    number: int
    png: bytes
    version: int
    changed_at: float  # time.time() of the newest change the picture includes
    render_ms: float
    width: int
    height: int

    def header(self) -> dict[str, Any]:
        return {
            "frame": self.number,
            "version": self.version,
            "changed_at": self.changed_at * 1000.0,
            "render_ms": round(self.render_ms, 2),
            "width": self.width,
            "height": self.height,
        }


class Performance:
    """The live state of one studio: the page's state, the mapping, the sources, and the newest frame."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.base: dict[str, Any] | None = None
        self.mapping: Mapping | None = None
        self.direct: dict[str, float] = {}  # controls set directly
        self.sources: dict[str, float] = {}  # newest value of each source, 0..1
        self.learning: dict[str, Any] | None = None
        self.learned: list[dict[str, Any]] = []
        self.inputs: dict[str, str] = {}  # live inputs listening (osc, midi): what each listens to
        self.error = ""
        self.version = 0
        self.changed_at = time.time()
        self._changed = threading.Condition()  # reentrant: its predicates take it again
        self._render = threading.Lock()
        self._controller: Controller | None = None
        self._stepped_at = time.monotonic()
        self._frame: Frame | None = None
        self._latency: deque[float] = deque(maxlen=120)  # change -> frame sent, milliseconds
        self._sent: deque[float] = deque(maxlen=120)  # monotonic times frames were sent

    # --- what changes the state ----------------------------------------------------------------------
    def _bump(self) -> None:
        """Called holding ``_changed``: one more change, waking every stream."""
        self.version += 1
        self.changed_at = time.time()
        self._changed.notify_all()

    def bundle(self, model_id: str) -> Any:
        return self.studio.models.get(self.studio.models.resolve(model_id))

    def set_state(self, state: StateIn) -> None:
        """The control page's state becomes the base the controls are written into; another model drops the
        controls set directly (they named the old model's layers)."""
        if self.mapping is not None:
            check_targets(self.mapping, self.bundle(state.model))
        with self._changed:
            if self.base is not None and self.base["model"] != state.model:
                self.direct = {}
            self.base = state.model_dump(by_alias=True, exclude_none=True)
            self._bump()

    def set_mapping(self, mapping: Mapping) -> None:
        """Use ``mapping`` from now on (its targets checked against the shown model)."""
        if self.base is not None:
            check_targets(mapping, self.bundle(self.base["model"]))
        with self._changed:
            self._use(mapping)
            self._bump()

    def _use(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self._controller = Controller(mapping)

    def check_controls(self, targets: list[str]) -> None:
        """A ConfigError naming the first of ``targets`` that is no control (of the shown model)."""
        for target in targets:
            target_bounds(target)
        if self.base is not None:
            bundle = self.bundle(self.base["model"])
            probe = [{"source": "osc:/probe", "target": t} for t in targets]
            check_targets(Mapping.model_validate({"bindings": probe}), bundle)
            written(self.base, dict.fromkeys(targets, 0.0), bundle)

    def set_controls(self, controls: dict[str, float]) -> None:
        """Controls set directly, kept until changed (a binding driving the same target wins)."""
        with self._changed:
            self.direct.update(controls)
            self._bump()

    def feed(self, source: str, value: float) -> None:
        """A live source moved to ``value`` (clamped to 0..1); in learn mode it may be bound first."""
        value = min(1.0, max(0.0, float(value))) if math.isfinite(value) else 0.0
        with self._changed:
            previous = self.sources.get(source)
            self.sources[source] = value
            if self.learning is not None and source.startswith(LEARNABLE) and previous != value:
                self._bind(source)
            if self.mapping is not None and source in self.mapping.sources():
                self._bump()

    def learn(self, target: str, span: tuple[float, float] | None, source: str | None = None) -> None:
        """Arm learn mode for ``target``: the next OSC address or MIDI control that moves drives it (over
        ``span``, else the binding's default range); with ``source`` given, bind that now."""
        self.check_controls([target])
        binding = {"source": source or "osc:/learn", "target": target, **({"range": span} if span else {})}
        try:
            Binding.model_validate(binding)
        except ValidationError as exc:
            raise ConfigError(describe(exc, "learn")) from None
        with self._changed:
            self.learning = {"target": target, "range": list(span) if span else None}
            if source is not None:
                self._bind(source)

    def cancel_learn(self) -> None:
        with self._changed:
            self.learning = None

    def _bind(self, source: str) -> None:
        """Called holding ``_changed``: bind ``source`` to the armed target, replacing its old bindings."""
        assert self.learning is not None
        binding = {"source": source, "target": self.learning["target"]}
        if self.learning["range"] is not None:
            binding["range"] = self.learning["range"]
        old = self.mapping.model_dump(mode="json", exclude_none=True) if self.mapping else {}
        kept = [
            b for b in old.get("bindings", []) if b["target"] != binding["target"] and b["source"] != source
        ]
        self._use(Mapping.model_validate({**old, "bindings": [*kept, binding]}))
        self.learned.append(binding)
        self.learning = None
        self._bump()

    # --- what is drawn ----------------------------------------------------------------------------------
    def controls(self) -> dict[str, float]:
        """The control values now: the direct ones, then the mapping's (its envelopes stepped to now)."""
        with self._changed:
            now = time.monotonic()
            dt, self._stepped_at = now - self._stepped_at, now
            values = dict(self.direct)
            if self._controller is not None:
                values.update(self._controller.step(self.sources, dt))
            return values

    def moving(self) -> bool:
        """Whether frames must keep coming with no new change: an envelope still on its way, or the latent
        travelling (``latent.motion``)."""
        with self._changed:
            controller = self._controller
            if controller is None:
                return False
            for binding, envelope in zip(controller.bindings, controller.envelopes, strict=True):
                heading = self.sources.get(binding.source, 0.0)
                if envelope.out is not None and abs(envelope.out - heading) > SETTLED:
                    return True
                if binding.target == "latent.motion" and binding.shape(envelope.out or 0.0) != 0.0:
                    return True
            return False

    def state(self) -> dict[str, Any] | None:
        """The studio state the performance view shows now (None before the page sent one)."""
        controls = self.controls()
        with self._changed:
            base = self.base
        if base is None:
            return None
        return written(base, controls, self.bundle(base["model"]))

    def render(self) -> Frame | None:
        """Draw the newest state (one drawing at a time; the frame already drawn for it is reused)."""
        with self._render:
            with self._changed:
                version, changed_at = self.version, self.changed_at
            if self._frame is not None and self._frame.version == version and not self.moving():
                return self._frame
            started = time.perf_counter()
            try:
                shown = self.state()
                if shown is None:
                    return None
                picture, _ = self.studio.picture(StateIn.model_validate(shown))
            except (SwerveError, ValidationError) as exc:
                self.error = " ".join(str(exc).split())[:300]
                return None
            self.error = ""
            number = self._frame.number + 1 if self._frame else 1
            elapsed = (time.perf_counter() - started) * 1000.0
            self._frame = Frame(number, png_bytes(picture), version, changed_at, elapsed, *picture.size)
            return self._frame

    def next_frame(self, handled: int, timeout: float = WAIT_S) -> tuple[Frame | None, int]:
        """Wait until the state changes after version ``handled`` (or :meth:`moving`), then draw the state as
        it is then: (the frame, or None with nothing new or a refused state; the version it handled).
        Changes made while a frame is drawn go into the next one: nothing queues."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != handled or self.moving(), timeout=timeout)
            version = self.version
        if version == handled and not self.moving():
            return None, handled
        return self.render(), version

    def sent(self, frame: Frame, first: bool = False) -> None:
        """A stream sent ``frame``: count it for the frame rate and latency the control page shows (not the
        latency of a stream's ``first`` frame, which waited for the stream, not for drawing)."""
        with self._changed:
            if not first:
                self._latency.append(max(0.0, time.time() - frame.changed_at) * 1000.0)
            self._sent.append(time.monotonic())

    def status(self) -> dict[str, Any]:
        """Frame rate, latency (median, p90), learn mode, the mapping, sources and inputs, and every control's
        value now (``live``: set directly or driven through the mapping), for the control page's sliders."""
        live = {k: round(v, 6) for k, v in self.controls().items() if math.isfinite(v)}
        with self._changed:
            latency = sorted(self._latency)
            sent = [t for t in self._sent if time.monotonic() - t < 2.0]
            fps = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else 0.0
            return {
                "fps": round(fps, 1),
                "latency_ms": {
                    "median": round(statistics.median(latency), 1) if latency else None,
                    "p90": round(latency[math.ceil(0.9 * len(latency)) - 1], 1) if latency else None,
                    "n": len(latency),
                },
                "frame": self._frame.number if self._frame else 0,
                "render_ms": round(self._frame.render_ms, 1) if self._frame else None,
                "error": self.error,
                "learning": self.learning,
                "learned": self.learned[-8:],
                "mapping": self.mapping.model_dump(mode="json", exclude_none=True) if self.mapping else None,
                "controls": dict(self.direct),
                "live": live,
                "sources": {k: round(v, 4) for k, v in sorted(self.sources.items())[:64]},
                "inputs": dict(self.inputs),
            }


def refused_socket(websocket: WebSocket, token: str) -> str | None:
    """Why a WebSocket cannot have come from the studio's own pages, or None (as ``app.refusal`` checks
    HTTP requests: another site's Origin, a missing or wrong token)."""
    from swerve.studio.app import TOKEN_HEADER

    origin = websocket.headers.get("origin")
    if origin is not None and origin.partition("://")[2] != websocket.headers.get("host", ""):
        return f"connections from {origin} are refused: the studio answers only its own page"
    given = websocket.query_params.get("token") or websocket.headers.get(TOKEN_HEADER)
    if given is None or not secrets.compare_digest(given.encode(), token.encode()):
        return "missing or wrong token: reload the studio's page"
    return None


def register(app: FastAPI, studio: Studio, parse: Callable) -> Performance:
    """Add the performance routes to ``app``: the page ``/perform``, the state, controls, sources, mapping and
    learn routes, the status, and the frame stream; answers the shared :class:`Performance`."""
    from swerve.studio.app import PAGE_HEADERS, TOKEN_SLOT

    performance = Performance(studio)
    app.state.performance = performance
    page_html = (STATIC / "perform.html").read_text().replace(TOKEN_SLOT, app.state.token)

    @app.get("/perform")
    async def perform_page() -> HTMLResponse:
        return HTMLResponse(page_html, headers=PAGE_HEADERS)

    @app.post("/api/perform/state", response_model=None)
    async def set_state(request: Request) -> dict[str, Any]:
        state = await parse(request, StateIn)
        await run_in_threadpool(studio.recipe, state)  # refuse what the studio would not draw, now
        await run_in_threadpool(performance.set_state, state)
        return {"version": performance.version}

    @app.post("/api/perform/controls", response_model=None)
    async def set_controls(request: Request) -> dict[str, Any]:
        body = await parse(request, ControlsIn)
        await run_in_threadpool(performance.check_controls, list(body.controls))
        performance.set_controls(body.controls)
        return {"version": performance.version}

    @app.post("/api/perform/sources", response_model=None)
    async def feed(request: Request) -> dict[str, Any]:
        body = await parse(request, SourcesIn)
        for name, value in body.values.items():
            performance.feed(name, value)
        return {"version": performance.version}

    @app.post("/api/perform/mapping", response_model=None)
    async def set_mapping(request: Request) -> dict[str, Any]:
        mapping = await parse(request, Mapping)
        await run_in_threadpool(performance.set_mapping, mapping)
        return performance.status()

    @app.post("/api/perform/learn", response_model=None)
    async def learn(request: Request) -> dict[str, Any]:
        body = await parse(request, LearnIn)
        await run_in_threadpool(performance.learn, body.target, body.range, body.source)
        return performance.status()

    @app.post("/api/perform/learn/cancel", response_model=None)
    async def cancel_learn() -> dict[str, Any]:
        performance.cancel_learn()
        return performance.status()

    @app.get("/api/perform/status", response_model=None)
    async def status() -> dict[str, Any]:
        return performance.status()

    @app.websocket("/api/perform/stream")
    async def stream(websocket: WebSocket) -> None:
        why = refused_socket(websocket, app.state.token)
        if why is not None:
            await websocket.close(code=1008, reason=why)
            return
        await websocket.accept()
        handled, told, first = -1, "", True
        try:
            while True:
                frame, handled = await run_in_threadpool(performance.next_frame, handled)
                if frame is None:
                    if performance.error and performance.error != told:  # a refused state: say so once
                        told = performance.error
                        await websocket.send_json({"error": told})
                    elif performance.error:
                        await asyncio.sleep(0.2)  # moving envelopes must not redraw a refused state flat out
                    else:
                        await websocket.send_json({"waiting": True})  # notices a closed socket
                    continue
                await websocket.send_json(frame.header())
                await websocket.send_bytes(frame.png)
                performance.sent(frame, first)
                told, first = "", False
        except WebSocketDisconnect:
            return

    return performance
