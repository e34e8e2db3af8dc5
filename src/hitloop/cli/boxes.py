"""Image commands: ``hitloop faces`` (suggestions), ``hitloop coco`` (COCO files), ``hitloop dicom``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hitloop.cli.options import open_context, quiet_option, settings_options
from hitloop.cli.progress import progress_bar
from hitloop.errors import InputError
from hitloop.services import boxes
from hitloop.services import dicom as dicom_service
from hitloop.settings import Settings

__all__ = ["coco", "dicom", "faces"]


@click.command("faces")
@click.argument("project_id", type=int)
@click.option(
    "--label", default=None, help="The label faces get [default: face if the project has it, else its first]."
)
@click.option("--redo", is_flag=True, help="Detect again on images that already have a suggestion.")
@click.option(
    "--min-neighbors",
    type=click.IntRange(min=0),
    default=None,
    help="Raw detections needed to keep a face; higher finds fewer, surer faces [default: 4].",
)
@click.option(
    "--min-size", type=click.IntRange(min=1), default=None, help="Smallest face side in pixels [default: 20]."
)
@quiet_option
@settings_options
def faces(
    project_id: int,
    label: str | None,
    redo: bool,
    min_neighbors: int | None,
    min_size: int | None,
    quiet: bool,
    settings: Settings,
) -> None:
    """Pre-draw face boxes on a boxes project's unanswered images, as suggestions.

    Runs OpenCV's Haar cascade (it ships with opencv-python-headless) here and
    now; the server runs the same work as the "faces" job. People see the boxes
    in the editor and correct them; the project page counts what they kept,
    moved and deleted.
    """
    params: dict[str, Any] = {}
    if min_neighbors is not None:
        params["min_neighbors"] = min_neighbors
    if min_size is not None:
        params["min_size"] = min_size
    with open_context(settings) as ctx, progress_bar(None, unit="images", quiet=quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        result = boxes.suggest_faces(
            ctx.db, ctx.media, project_id, label=label, params=params, redo=redo, progress=progress
        )
    click.echo(f"Suggested {result['boxes']:,} face boxes on {result['items']:,} images")


@click.group("coco")
def coco() -> None:
    """COCO object-detection JSON: import images with boxes, export answers."""


@coco.command("import")
@click.argument("project_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@quiet_option
@settings_options
def coco_import(project_id: int, path: Path, quiet: bool, settings: Settings) -> None:
    """Import a COCO file into a boxes project: images become items, boxes their suggestions.

    Image paths (file_name) are relative to the file's folder. Every category
    must be a label of the project. The whole file is checked first; any bad
    entry stops the import with its field named (images[3].file_name), and
    nothing is imported.
    """
    with open_context(settings) as ctx, progress_bar(None, unit="images", quiet=quiet) as bar:
        result = boxes.import_coco(
            ctx.db, ctx.media, project_id, None, path, limits=ctx.limits, progress=bar.update
        )
    click.echo(f"Imported {result['images']:,} images with {result['boxes']:,} suggested boxes from {path}")


@coco.command("export")
@click.argument("project_id", type=int)
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write; - is standard output.")
@settings_options
def coco_export(project_id: int, output: str, settings: Settings) -> None:
    """Export a boxes project's current answers as a COCO file (one image per answered item)."""
    with open_context(settings) as ctx:
        document = boxes.export_coco(ctx.db, project_id)
    text = json.dumps(document, ensure_ascii=False)
    if output == "-":
        click.echo(text)
        return
    target = Path(output)
    try:
        target.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the file: {exc.strerror or exc}", file=output) from None
    n = len(document["annotations"])
    click.echo(f"Wrote {len(document['images']):,} images and {n:,} boxes to {output}")


@click.group("dicom")
def dicom() -> None:
    """DICOM files (needs the dicom extra: pip install 'hitloop[dicom]')."""


@dicom.command("import")
@click.argument("project_id", type=int)
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@quiet_option
@settings_options
def dicom_import(project_id: int, path: Path, quiet: bool, settings: Settings) -> None:
    """Import a DICOM file, or the .dcm/.dicom files under a folder, into an image project.

    Each becomes a 16-bit grayscale PNG (window/level in the box editor) with
    its technical tags (modality, size, pixel spacing, window, rescale) in the
    item's metadata. Patient and study tags are not stored. All or nothing:
    a file that is not DICOM, multi-frame, color or undecodable stops the
    import, naming it.
    """
    with open_context(settings) as ctx, progress_bar(None, unit="images", quiet=quiet) as bar:
        result = dicom_service.import_dicom(
            ctx.db, ctx.media, project_id, None, path, limits=ctx.limits, progress=bar.update
        )
    click.echo(f"Imported {result.created:,} DICOM images from {path}")
