"""``swerve studio``: serve the browser studio on this machine."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from swerve.cli.main import app, emit
from swerve.errors import ConfigError


@app.command()
def studio(
    bundle_name: str = typer.Argument(
        None, metavar="BUNDLE", help="Model to open first (zoo name or directory)."
    ),
    allow: list[Path] = typer.Option(
        [], "--allow", help="A directory whose bundles the page may open (repeat for several)."
    ),
    out: Path = typer.Option(Path("studio-out"), help="Where kept pictures, recipes and videos are written."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (keep 127.0.0.1 unless you mean it)."),
    port: int = typer.Option(8765, min=0, max=65535, help="Port to listen on (0 picks a free one)."),
    device: str = typer.Option("cpu", help="cpu, cuda, mps or auto."),
    as_json: bool = typer.Option(False, "--json", help="Print the address as JSON before serving."),
    trusted: list[str] = typer.Option(
        [],
        "--trust",
        metavar="MODULE",
        help="Trust this Python module to hold network classes of bundles the page opens (repeatable).",
    ),
    osc: int = typer.Option(
        None, "--osc", min=0, max=65535, metavar="PORT", help="Listen for OSC control on 127.0.0.1:PORT."
    ),
    midi: str = typer.Option(None, "--midi", metavar="PORT_NAME", help="Take MIDI control from this input."),
    mapping: Path = typer.Option(
        None, "--mapping", help="A mapping file (YAML or JSON, as swerve react reads) for live control."
    ),
) -> None:
    """Start the studio: pick a model, explore its latents, bend and blend it live, keep what you make."""
    try:
        import uvicorn

        from swerve.studio.app import LOCAL_HOSTS, create_app
    except ImportError as exc:
        missing = f"{exc.name} is missing"
        raise ConfigError(f"the studio needs its extra: pip install 'swerve[studio]' ({missing})") from None
    from swerve.bundle import trust
    from swerve.studio.engine import Studio
    from swerve.studio.models import Models

    if trusted:
        trust(*trusted)

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; the studio keeps what you make in a folder")
    roots = [p for p in allow]
    start = None
    if bundle_name is not None:
        given = Path(bundle_name)
        if given.is_dir():  # naming a bundle on the command line allows it
            roots.append(given)
            start = str(given.resolve())
        else:
            start = bundle_name
    models = Models(roots, device=device)
    if start is not None:
        start = models.resolve(start)
    engine = Studio(models, out, start_model=start)
    if host in ("0.0.0.0", "::"):  # every interface: the user chose to be reachable by any name
        hosts = ["*"]
        typer.echo("warning: the studio is reachable from other machines on this network", err=True)
    else:
        hosts = LOCAL_HOSTS if host in LOCAL_HOSTS else [*LOCAL_HOSTS, host]
    web = create_app(engine, hosts)
    inputs = _live(web.state.performance, engine, osc, midi, mapping)
    sock = _listen(host, port)
    config = uvicorn.Config(web, log_level="warning")
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{sock.getsockname()[1]}/"
    emit(
        {"url": address, "allowed": [str(r) for r in models.roots], "out": str(out), "model": start},
        as_json,
        f"swerve studio at {address}  (Ctrl-C stops it; kept files go to {out})",
    )
    try:
        server.run(sockets=[sock])
    finally:
        for source in inputs:
            source.close()


def _live(performance, engine, osc: int | None, midi: str | None, mapping: Path | None) -> list:  # noqa: ANN001
    """Load the mapping (checked against the first model) and start the OSC and MIDI inputs asked for."""
    if mapping is not None:
        from swerve.look.mapping import check_targets, load_mapping

        loaded = load_mapping(mapping)
        if engine.start_model is not None:
            check_targets(loaded, engine.models.get(engine.start_model))
        performance.set_mapping(loaded)
    if osc is None and midi is None:
        return []
    from swerve.studio.live_control import start_inputs

    inputs = start_inputs(performance, osc, midi)
    for kind, where in performance.inputs.items():
        typer.echo(f"{kind} control: {where}", err=True)
    return inputs


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, so a busy port is one clear line and port 0 prints the port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP: asyncio then sets NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    return sock
