"""The root ``hitloop`` command."""

from __future__ import annotations

import click

from hitloop.cli.audit import audit, consensus
from hitloop.cli.boxes import coco, dicom, faces
from hitloop.cli.database import db
from hitloop.cli.demo import demo
from hitloop.cli.errors import ErrorReportingGroup
from hitloop.cli.jobs import jobs, train
from hitloop.cli.members import gold, members, team
from hitloop.cli.projects import projects
from hitloop.cli.serve import serve
from hitloop.cli.simulate import simulate_command
from hitloop.cli.speech import transcribe
from hitloop.cli.transfer import export_annotations, import_items
from hitloop.cli.users import tokens, users
from hitloop.cli.worker import worker

__all__ = ["cli", "main"]


@click.group("hitloop", cls=ErrorReportingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hitloop", prog_name="hitloop", message="%(prog)s %(version)s")
def cli() -> None:
    """hitloop: label data with people and models in the loop.

    Settings come from HITLOOP_* environment variables (see docs/settings.md);
    --data-dir and --database-url override them for one command. Every command
    that uses the database first brings its schema up to date.
    """


for command in (serve, demo, users, tokens, projects, import_items, export_annotations, db, transcribe):
    cli.add_command(command)
cli.add_command(simulate_command)
cli.add_command(audit)
for command in (members, team, gold):
    cli.add_command(command)
cli.add_command(consensus)
cli.add_command(train)
cli.add_command(jobs)
cli.add_command(worker)
cli.add_command(faces)
cli.add_command(coco)
cli.add_command(dicom)


def main() -> None:
    cli(prog_name="hitloop")
