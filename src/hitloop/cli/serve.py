"""``hitloop serve``: run the web server."""

from __future__ import annotations

import errno
import os
import socket

import click

from hitloop.cli.errors import CommandError
from hitloop.cli.options import open_context, settings_options
from hitloop.settings import Settings

__all__ = ["check_port", "run_server", "serve", "server_url"]


def server_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere; this address works from the same machine
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


# uvicorn's httptools protocol, sending small responses in one write (hitloop.api.protocol).
HTTP_PROTOCOL = "hitloop.api.protocol:HttpProtocol"


def check_port(host: str, port: int) -> None:
    """Refuse an address the server cannot listen on, before saying that it runs.

    uvicorn finds out only after the app has started, and exits with code 3 under
    a "hitloop is running at ..." line. Bound as uvicorn binds (SO_REUSEADDR), so
    a port left in TIME_WAIT passes here as it would there.
    """
    if port == 0:  # the system picks a free one
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"port {port} on {host} is already in use (another hitloop server?); "
                    "choose another with --port"
                ) from None
            raise CommandError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None


def run_server(settings: Settings, host: str, port: int, *, workers: int = 1) -> None:
    """Migrate the database once, then hand over to uvicorn until Ctrl+C."""
    import uvicorn

    from hitloop.api import create_app

    check_port(host, port)
    with open_context(settings) as ctx:
        click.echo(f"hitloop is running at {server_url(host, port)} (press Ctrl+C to stop)")
        if workers == 1:
            uvicorn.run(create_app(context=ctx), host=host, port=port, log_level="info", http=HTTP_PROTOCOL)
            return
    # Each worker process builds its own app from the environment, so pass the settings on there.
    os.environ["HITLOOP_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["HITLOOP_DATABASE_URL"] = settings.resolved_database_url()
    uvicorn.run(
        "hitloop.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        http=HTTP_PROTOCOL,
    )


@click.command()
@click.option("--host", default=None, help="Address to bind to [default: HITLOOP_HOST, else 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on [default: HITLOOP_PORT, else 8765].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes. Several workers share the database; PostgreSQL suits that best.",
)
@settings_options
def serve(host: str | None, port: int | None, workers: int, settings: Settings) -> None:
    """Run the web server (the labeling app and the JSON API)."""
    run_server(settings, host or settings.host, settings.port if port is None else port, workers=workers)
