"""``hitloop import`` and ``hitloop export``: items in, annotations out, streaming."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import click

from hitloop.cli.options import open_context, quiet_option, settings_options
from hitloop.cli.progress import progress_bar
from hitloop.errors import InputError
from hitloop.formats import (
    FORMATS,
    IMAGE_EXTENSIONS,
    count_records,
    detect_format,
    open_reader,
)
from hitloop.formats.audio import AUDIO_EXTENSIONS
from hitloop.services import exports, items, projects
from hitloop.settings import Settings
from hitloop.types import Modality

__all__ = ["export_annotations", "import_items"]

EXPORT_FORMATS = ("jsonl", "csv", "parquet")
_EXPORT_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


@click.command("import")
@click.argument("project_id", type=int)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "format_",
    type=click.Choice(list(FORMATS)),
    help="The file format [default: from the extension; a directory is a folder of images].",
)
@click.option(
    "--text-field", default="text", show_default=True, help="Field holding the text (text projects)."
)
@click.option(
    "--image-field",
    default="image",
    show_default=True,
    help="Field holding an image path, relative to the file's directory (image projects).",
)
@click.option(
    "--audio-field",
    default="audio",
    show_default=True,
    help="Field holding a recording's path, relative to the file's directory (audio projects).",
)
@click.option(
    "--id-field", default=None, help="Field holding your own id for each item, kept as external_id."
)
@click.option(
    "--gold-field",
    default=None,
    help="Field holding a known answer (a label; for multilabel a list of labels, or one label):"
    " items that have one become gold items.",
)
@quiet_option
@settings_options
def import_items(
    project_id: int,
    path: Path,
    format_: str | None,
    text_field: str,
    image_field: str,
    audio_field: str,
    id_field: str | None,
    gold_field: str | None,
    quiet: bool,
    settings: Settings,
) -> None:
    """Import items from a file or a folder of images.

    PATH is a JSONL, CSV or Parquet file, or a folder of images or recordings
    (each file's path in the folder is kept in its metadata as "path"). All or nothing: if
    any record is bad (a label in the gold field that the project does not
    have, too), the error names its file, line and field, and no item is
    imported. Fields other than the named ones are kept as item metadata.
    """
    kind = detect_format(path, format_)
    if kind == "folder" and gold_field is not None:
        raise InputError(
            "a folder of files has no fields; --gold-field needs a JSONL, CSV or Parquet file",
            file=str(path),
            field="gold_field",
        )
    with open_context(settings) as ctx:
        project = projects.get_project(ctx.db, project_id)
        is_image = project.modality is Modality.IMAGE
        is_audio = project.modality is Modality.AUDIO
        if kind == "folder":
            if not (is_image or is_audio):
                raise InputError(
                    f"project {project_id} holds {project.modality.value} items; "
                    "a folder of images needs an image project (of recordings, an audio project)",
                    file=str(path),
                )
            fields: dict[str, Any] = {"extensions": AUDIO_EXTENSIONS} if is_audio else {}
        else:
            fields = {
                "id_field": id_field,
                "label_field": gold_field,
                "max_text_chars": settings.max_text_chars,
            }
            if is_image or is_audio:
                fields["image_field"] = audio_field if is_audio else image_field
                fields["media"] = "audio" if is_audio else "image"
            else:
                fields["text_field"] = text_field
        total = count_records(path, kind, extensions=AUDIO_EXTENSIONS if is_audio else IMAGE_EXTENSIONS)
        with progress_bar(total, unit="items", quiet=quiet) as bar:
            result = items.import_records(
                ctx.db,
                ctx.media,
                project_id,
                None,
                open_reader(path, format=kind, **fields),
                source=str(path),
                limits=ctx.limits,
                batch_size=settings.import_batch_size,
                progress=bar.update,
                gold_field=gold_field,
                media_field=fields.get("image_field"),
            )
    gold = f" ({result.gold:,} of them gold)" if result.gold else ""
    click.echo(f"Imported {result.created:,} items from {path}{gold}")


def _export_format(format_: str | None, output: str) -> str:
    if format_ is None:
        if output == "-":
            raise click.UsageError("give --format when writing to standard output")
        format_ = _EXPORT_EXTENSIONS.get(Path(output).suffix.lower())
        if format_ is None:
            raise click.UsageError(f"cannot tell the format from {output!r}; give --format")
    if format_ == "parquet" and output == "-":
        raise click.UsageError("Parquet cannot be written to standard output; give a file with -o")
    return format_


def _write_file(path: Path, write: Callable[[BinaryIO], int]) -> int:
    """Write beside ``path`` and rename, so a failed export leaves no half-written file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as out:
            count = write(out)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write the file: {exc.strerror or exc}", file=str(path)) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


@click.command("export")
@click.argument("project_id", type=int)
@click.option(
    "--format",
    "format_",
    type=click.Choice(EXPORT_FORMATS),
    help="The file format [default: from the extension of the output file].",
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="Where to write; - is standard output (jsonl and csv only).",
)
@click.option("--include-skipped", is_flag=True, help="Also export skips (with an empty value).")
@quiet_option
@settings_options
def export_annotations(
    project_id: int,
    format_: str | None,
    output: str,
    include_skipped: bool,
    quiet: bool,
    settings: Settings,
) -> None:
    """Export a project's current annotations, one row per annotation.

    Columns: annotation_id, item_id, external_id, text, media_sha256, meta,
    annotator, label, value, skipped, seconds, created_at (UNIX seconds).
    Edited answers appear once, as last edited.
    """
    kind = _export_format(format_, output)

    def write(out: BinaryIO, progress: Callable[[int], None]) -> int:
        if kind == "parquet":
            return exports.export_parquet(
                ctx.db, project_id, out, include_skipped=include_skipped, progress=progress
            )
        rows = 0

        def counting(n: int) -> None:
            nonlocal rows
            rows += n
            progress(n)

        for chunk in exports.iter_export(
            ctx.db, project_id, kind, include_skipped=include_skipped, progress=counting
        ):
            out.write(chunk)
        return rows

    with open_context(settings) as ctx:
        stats = projects.project_stats(ctx.db, project_id)
        total = stats.annotations + (stats.skipped if include_skipped else 0)
        with progress_bar(total, unit="rows", quiet=quiet) as bar:
            if output == "-":
                stdout = cast(BinaryIO, click.open_file("-", "wb"))
                count = write(stdout, bar.update)
                stdout.flush()
            else:
                count = _write_file(Path(output), lambda out: write(out, bar.update))
    where = "standard output" if output == "-" else output
    click.echo(f"Exported {count:,} annotations to {where}", err=output == "-")
