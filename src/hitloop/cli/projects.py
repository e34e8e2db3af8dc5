"""``hitloop projects``: create, list and describe projects."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import ValidationError

from hitloop.cli.errors import input_error
from hitloop.cli.options import open_context, settings_options
from hitloop.cli.render import table
from hitloop.errors import InputError
from hitloop.schemas import ProjectCreate, ProjectOut
from hitloop.services import projects as service
from hitloop.settings import Settings
from hitloop.types import Modality, TaskType

__all__ = ["projects"]


@click.group()
def projects() -> None:
    """Create, list and describe projects."""


def _labels(labels: str | None, label_file: Path | None) -> list[str]:
    if labels is not None and label_file is not None:
        raise click.UsageError("give --labels or --label-file, not both")
    if label_file is not None:
        try:
            text = label_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the label file: {exc}", file=str(label_file)) from None
        return [line.strip() for line in text.splitlines() if line.strip()]
    if labels is None or not labels.strip():
        return []
    return [name.strip() for name in labels.split(",")]


@projects.command("create")
@click.argument("name")
@click.option(
    "--task",
    type=click.Choice([t.value for t in TaskType]),
    default=TaskType.CLASSIFY.value,
    show_default=True,
    help=(
        "classify: one label per item; multilabel: any number of labels; boxes: labeled "
        "rectangles on images; transcribe: the words of recordings (audio)."
    ),
)
@click.option(
    "--modality",
    type=click.Choice([m.value for m in Modality]),
    default=Modality.TEXT.value,
    show_default=True,
    help="What the items are.",
)
@click.option("--labels", metavar="A,B,C", help="The label set, comma-separated.")
@click.option(
    "--label-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the label set from a file instead: one label per line, blank lines ignored.",
)
@click.option("--instructions", default="", help="Guidelines shown to annotators.")
@settings_options
def create_project(
    name: str,
    task: str,
    modality: str,
    labels: str | None,
    label_file: Path | None,
    instructions: str,
    settings: Settings,
) -> None:
    """Create a project, with no owner: add one with `hitloop members add ID NAME --role owner`.

    Classify, multilabel and boxes projects need a label set (--labels or --label-file);
    transcribe projects need none.
    """
    try:
        spec = ProjectCreate(
            name=name,
            task=TaskType(task),
            modality=Modality(modality),
            labels=_labels(labels, label_file),
            instructions=instructions,
        )
    except ValidationError as exc:
        raise input_error(exc) from None
    with open_context(settings) as ctx:
        project = service.create_project(ctx.db, None, spec)
    click.echo(
        f"Created project {project.id} {project.name!r} "
        f"({project.task.value}, {project.modality.value}, {len(project.labels)} labels)"
    )


@projects.command("list")
@settings_options
def list_projects(settings: Settings) -> None:
    """List every project with its progress."""
    with open_context(settings) as ctx:
        found = service.list_projects(ctx.db, with_stats=True)
    rows = []
    for p in found:
        stats = p.stats
        progress = f"{stats.labeled:,}/{stats.total:,}" if stats is not None else ""
        rows.append((p.id, p.name, p.task.value, p.modality.value, progress))
    click.echo(table(["ID", "NAME", "TASK", "MODALITY", "LABELED/TOTAL"], rows, right=[0, 4]))


@projects.command("show")
@click.argument("project_id", type=int)
@settings_options
def show_project(project_id: int, settings: Settings) -> None:
    """Show a project's settings, progress and label distribution."""
    with open_context(settings) as ctx:
        project = service.get_project(ctx.db, project_id, with_stats=True)
    click.echo(_describe(project))


def _describe(p: ProjectOut) -> str:
    lines = [
        f"Project {p.id}: {p.name}",
        f"  task:         {p.task.value}",
        f"  modality:     {p.modality.value}",
        f"  labels:       {', '.join(p.labels)}",
        f"  created:      {p.created_at:%Y-%m-%d %H:%M}",
    ]
    if p.instructions:
        lines.append(f"  instructions: {p.instructions}")
    s = p.stats
    if s is None:
        return "\n".join(lines)
    lines += [
        f"  items:        {s.total:,} ({s.labeled:,} labeled, {s.total - s.labeled:,} to go)",
        f"  annotations:  {s.annotations:,} answers, {s.skipped:,} skips",
        "",
        "Label distribution:",
    ]
    answered = sum(s.distribution.values())
    rows = []
    for label, count in s.distribution.items():
        share = count / answered if answered else 0.0
        rows.append((f"  {label}", f"{count:,}", f"{share:.1%}", "#" * round(share * 30)))
    lines.append(table(["  LABEL", "COUNT", "SHARE", ""], rows, right=[1, 2]))
    return "\n".join(lines)
