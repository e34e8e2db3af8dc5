"""``hitloop audit export|instance`` and ``hitloop consensus``: audit logs and consensus labels."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import click

from hitloop.cli.options import open_context, settings_options
from hitloop.errors import InputError
from hitloop.services import audit as audit_service
from hitloop.services import consensus as consensus_service
from hitloop.settings import Settings

__all__ = ["audit", "consensus"]


def _write(output: str, chunks: Iterator[bytes]) -> int:
    """Write to standard output, or beside the file and rename (no half-written file on failure)."""
    if output == "-":
        stdout = click.open_file("-", "wb")
        n = sum(stdout.write(chunk) for chunk in chunks)
        stdout.flush()
        return n
    path = Path(output)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as out:
            n = sum(out.write(chunk) for chunk in chunks)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write the file: {exc.strerror or exc}", file=output) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return n


@click.group()
def audit() -> None:
    """A project's or the instance's audit log: who did what, and when."""


_FORMAT = click.option(
    "--format",
    "format_",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="jsonl or csv [default: from the extension of the output file, else jsonl].",
)
_OUTPUT = click.option(
    "-o", "--output", required=True, metavar="FILE", help="Where to write; - is standard output."
)


def _kind(format_: str | None, output: str) -> Literal["jsonl", "csv"]:
    return "csv" if (format_ or ("csv" if output.lower().endswith(".csv") else "jsonl")) == "csv" else "jsonl"


@audit.command("export")
@click.argument("project_id", type=click.IntRange(min=1))
@_FORMAT
@_OUTPUT
@settings_options
def export_audit(project_id: int, format_: str | None, output: str, settings: Settings) -> None:
    """Export the whole audit log of a project, oldest first (detail as JSON)."""
    with open_context(settings) as ctx:
        _write(output, audit_service.iter_audit_export(ctx.db, project_id, _kind(format_, output)))
    if output != "-":
        click.echo(f"Exported the audit log of project {project_id} to {output}")


@audit.command("instance")
@_FORMAT
@_OUTPUT
@settings_options
def export_instance_audit(format_: str | None, output: str, settings: Settings) -> None:
    """Export the instance's audit log (users created, sessions, API tokens), oldest first."""
    with open_context(settings) as ctx:
        _write(output, audit_service.iter_instance_audit_export(ctx.db, _kind(format_, output)))
    if output != "-":
        click.echo(f"Exported the instance's audit log to {output}")


@click.command("consensus")
@click.argument("project_id", type=click.IntRange(min=1))
@click.option(
    "--method",
    default=None,
    help="auto, majority-vote, dawid-skene, one-coin-dawid-skene, glad or model-assisted "
    "[default: the project's setting, else auto].",
)
@click.option("-o", "--output", required=True, metavar="FILE", help="Where to write; - is standard output.")
@settings_options
def consensus(project_id: int, method: str | None, output: str, settings: Settings) -> None:
    """Write one consensus label per answered item as JSON lines (label, confidence, answers, method)."""
    with open_context(settings) as ctx:
        lines = list(consensus_service.iter_consensus_jsonl(ctx.db, project_id, method=method))
        _write(output, iter(lines))
    if output != "-":
        click.echo(f"Wrote {len(lines):,} consensus labels to {output}")
