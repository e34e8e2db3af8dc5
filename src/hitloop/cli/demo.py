"""``hitloop demo``: a ready-to-label local instance in one command."""

from __future__ import annotations

import time

import click

from hitloop.cli.options import open_context, settings_options
from hitloop.cli.render import table
from hitloop.cli.serve import check_port, run_server
from hitloop.services.demo import DemoInfo, ensure_demo
from hitloop.settings import Settings

__all__ = ["demo"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind to.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port to listen on."
)
@click.option("--no-serve", is_flag=True, help="Set up the demo data, then exit without starting the server.")
@settings_options
def demo(host: str, port: int, no_serve: bool, settings: Settings) -> None:
    """Set up a demo in the data directory and serve it.

    The first run creates two projects: "Handwritten digits", the 1,797 8x8
    digits of scikit-learn's load_digits() as images to classify 0-9, and
    "Review sentiment", 200 short reviews to classify as positive or negative.
    Every item holds its true label in meta["true_label"]. Later runs reuse
    the data.

    \b
    Log in as:  demo / demo-password  (an administrator)

    The password is fixed and printed, so keep the demo on 127.0.0.1 (the
    default --host).
    """
    if not no_serve:
        check_port(host, port)  # a second demo on the same port fails here, before its setup
    started = time.perf_counter()
    with open_context(settings) as ctx:
        info = ensure_demo(ctx)
    click.echo(_summary(info, settings, time.perf_counter() - started))
    if not no_serve:
        run_server(settings, host, port)


def _summary(info: DemoInfo, settings: Settings, seconds: float) -> str:
    if any(p.created for p in info.projects):
        head = f"Set up the demo in {settings.data_dir} ({seconds:.1f} s)"
    else:
        head = f"Reusing the demo in {settings.data_dir}"
    rows = [(p.id, p.name, f"{p.items:,}", "new" if p.created else "existing") for p in info.projects]
    login = f"Login: {info.username} / {info.password}"
    if not info.user_created:
        login += " (unless you changed it)"
    return "\n".join([head, table(["ID", "PROJECT", "ITEMS", ""], rows, right=[0, 2]), login])
