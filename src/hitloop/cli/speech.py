"""``hitloop transcribe``: recognizer drafts for a transcribe project."""

from __future__ import annotations

import click

from hitloop.cli.options import open_context, quiet_option, settings_options
from hitloop.cli.progress import progress_bar
from hitloop.services import speech
from hitloop.settings import Settings

__all__ = ["transcribe"]


@click.command("transcribe")
@click.argument("project_id", type=int)
@click.option("--redo", is_flag=True, help="Replace drafts that exist already.")
@click.option("--limit", type=click.IntRange(min=1), help="Draft at most this many items.")
@quiet_option
@settings_options
def transcribe(project_id: int, redo: bool, limit: int | None, quiet: bool, settings: Settings) -> None:
    """Write a speech-recognizer draft for each recording of a transcribe project.

    The recognizer (PocketSphinx, US English) runs offline with the model its
    package carries. Recordings longer than 30 seconds are split at pauses and
    drafted segment by segment. Items with a draft are skipped unless --redo;
    an interrupted run keeps the drafts it finished.
    """
    with open_context(settings) as ctx, progress_bar(None, unit="items", quiet=quiet) as bar:

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        count = speech.transcribe_project(
            ctx.db, ctx.media, project_id, redo=redo, limit=limit, progress=step
        )
    click.echo(f"Drafted {count:,} items of project {project_id}")
