"""``hitloop serve``: run the web server."""

from __future__ import annotations

import os

import click

from hitloop.cli.options import open_context, settings_options
from hitloop.settings import Settings

__all__ = ["run_server", "serve", "server_url"]


def server_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere; this address works from the same machine
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


# uvicorn's httptools protocol, sending small responses in one write (hitloop.api.protocol).
HTTP_PROTOCOL = "hitloop.api.protocol:HttpProtocol"


def run_server(settings: Settings, host: str, port: int, *, workers: int = 1) -> None:
    """Migrate the database once, then hand over to uvicorn until Ctrl+C."""
    import uvicorn

    from hitloop.api import create_app

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
