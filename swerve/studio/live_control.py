"""Live control of the studio: OSC (python-osc) and MIDI (mido) input fed into the performance state.

Every message becomes a source value between 0 and 1 (:meth:`swerve.studio.perform.Performance.feed`), named
as the mapping format names them (:mod:`swerve.look.mapping`): ``osc:/address`` for an OSC message's first
number and ``osc:/address.i`` for its ``i``-th, ``midi:cc:CHANNEL:NUMBER`` for a control change (value / 127)
and ``midi:note:CHANNEL:NUMBER`` for a note (velocity / 127 while held, 0 when released); MIDI channels count
from 1 as instruments show them. OSC numbers outside 0..1 are clamped. The OSC server listens on 127.0.0.1
only. Both need ``pip install 'swerve[live]'``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from swerve.errors import ConfigError


class Feed(Protocol):
    def feed(self, source: str, value: float) -> None: ...


def need(module: str, what: str) -> Any:
    """Import ``module`` or raise a ConfigError naming the extra that brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise ConfigError(
            f"{what} needs the live extra: pip install 'swerve[live]' ({top} is missing)"
        ) from None


def osc_sources(address: str, args: tuple[Any, ...]) -> list[tuple[str, float]]:
    """The sources one OSC message sets: its first number as ``osc:ADDRESS`` and every number ``i`` as
    ``osc:ADDRESS.i``; arguments that are not numbers (strings, blobs) are skipped."""
    found = []
    numbers = [(i, a) for i, a in enumerate(args) if isinstance(a, int | float) and not isinstance(a, bool)]
    for position, (i, value) in enumerate(numbers):
        if value != value:  # NaN
            continue
        if position == 0:
            found.append((f"osc:{address}", float(value)))
        found.append((f"osc:{address}.{i}", float(value)))
    return found


def midi_sources(message: Any) -> list[tuple[str, float]]:
    """The source one mido message sets (control changes and notes; anything else sets none)."""
    kind = getattr(message, "type", "")
    channel = getattr(message, "channel", 0) + 1
    if kind == "control_change":
        return [(f"midi:cc:{channel}:{message.control}", message.value / 127.0)]
    if kind == "note_on":
        return [(f"midi:note:{channel}:{message.note}", message.velocity / 127.0)]
    if kind == "note_off":
        return [(f"midi:note:{channel}:{message.note}", 0.0)]
    return []


class OscInput:
    """An OSC server on ``127.0.0.1:port`` (0 picks a free port: see :attr:`port`) feeding ``target``."""

    def __init__(self, target: Feed, port: int) -> None:
        dispatcher_module = need("pythonosc.dispatcher", "OSC control")
        server_module = need("pythonosc.osc_server", "OSC control")
        dispatcher = dispatcher_module.Dispatcher()
        dispatcher.set_default_handler(self._handle)
        self.target = target
        try:
            self.server = server_module.ThreadingOSCUDPServer(("127.0.0.1", port), dispatcher)
        except OSError as exc:
            raise ConfigError(f"cannot listen for OSC on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="swerve-osc", daemon=True)

    def _handle(self, address: str, *args: Any) -> None:
        for source, value in osc_sources(address, args):
            self.target.feed(source, value)

    def start(self) -> OscInput:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """Standard error closed at the file-descriptor level for a while: the ALSA library prints its own lines
    there when no MIDI system is present, and a failure must read as swerve's one line."""
    try:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class MidiInput:
    """The MIDI input port ``name`` (mido, through python-rtmidi) feeding ``target``."""

    def __init__(self, target: Feed, name: str) -> None:
        mido = need("mido", "MIDI control")
        self.target = target
        try:
            with _c_stderr_silenced():
                self.port = mido.open_input(name, callback=self._handle)
        except (OSError, ImportError) as exc:
            try:
                with _c_stderr_silenced():
                    names = ", ".join(mido.get_input_names()) or "none"
            except (OSError, ImportError):
                names = "unknown (no MIDI backend)"
            raise ConfigError(f"cannot open MIDI input {name!r}: {exc} (inputs here: {names})") from None
        self.name = name

    def _handle(self, message: Any) -> None:
        for source, value in midi_sources(message):
            self.target.feed(source, value)

    def close(self) -> None:
        self.port.close()


def start_inputs(performance: Any, osc: int | None, midi: str | None) -> list[Any]:
    """Start the OSC server and the MIDI input asked for, recording what each listens to on ``performance``;
    answers the inputs (to close)."""
    inputs: list[Any] = []
    try:
        if osc is not None:
            server = OscInput(performance, osc).start()
            performance.inputs["osc"] = f"udp://127.0.0.1:{server.port}"
            inputs.append(server)
        if midi is not None:
            inputs.append(MidiInput(performance, midi))
            performance.inputs["midi"] = midi
    except ConfigError:
        for opened in inputs:
            opened.close()
        raise
    return inputs
