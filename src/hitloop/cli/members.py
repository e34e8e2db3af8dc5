"""``hitloop members``, ``hitloop team`` and ``hitloop gold``: who works on a project, and how.

The command line acts as the operator of the server (like ``hitloop users``):
its changes are recorded in the audit log without a user.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from hitloop.cli.errors import input_error
from hitloop.cli.options import open_context, settings_options
from hitloop.cli.render import table
from hitloop.db.engine import Database
from hitloop.errors import HitloopError, InputError, NotFoundError
from hitloop.schemas import GoldMark, TeamSettingsUpdate
from hitloop.services import gold as gold_service
from hitloop.services import invites as invite_service
from hitloop.services import members as service
from hitloop.services import team as team_service
from hitloop.settings import Settings
from hitloop.types import Role

__all__ = ["gold", "members", "team"]

ROLES = click.Choice([r.value for r in Role])


@click.group()
def members() -> None:
    """Add, list, change and remove the members of a project; invite people by link."""


def _member_id(db: Database, project_id: int, username: str) -> int:
    for m in service.list_members(db, project_id):
        if m.username == username:
            return m.user_id
    raise NotFoundError(f"{username!r} is not a member of project {project_id}", field="user")


@members.command("list")
@click.argument("project", type=int)
@settings_options
def list_members(project: int, settings: Settings) -> None:
    """List a project's members with their roles."""
    with open_context(settings) as ctx:
        rows = [
            (m.user_id, m.username, m.role.value, f"paused: {m.pause_reason}" if m.paused else "")
            for m in service.list_members(ctx.db, project)
        ]
    click.echo(table(["ID", "USER", "ROLE", "STATE"], rows, right=[0]))


@members.command("add")
@click.argument("project", type=int)
@click.argument("user")
@click.option(
    "--role", type=ROLES, default=Role.ANNOTATOR.value, show_default=True, help="The member's role."
)
@settings_options
def add_member(project: int, user: str, role: str, settings: Settings) -> None:
    """Add an existing user to a project."""
    with open_context(settings) as ctx:
        out = service.add_member(ctx.db, None, project, user, Role(role))
    click.echo(f"Added {out.username!r} to project {project} as {out.role.value}")


@members.command("role")
@click.argument("project", type=int)
@click.argument("user")
@click.argument("role", type=ROLES)
@settings_options
def change_role(project: int, user: str, role: str, settings: Settings) -> None:
    """Change a member's role."""
    with open_context(settings) as ctx:
        out = service.update_member(ctx.db, None, project, _member_id(ctx.db, project, user), role=Role(role))
    click.echo(f"{out.username!r} is now {out.role.value} in project {project}")


@members.command("remove")
@click.argument("project", type=int)
@click.argument("user")
@settings_options
def remove_member(project: int, user: str, settings: Settings) -> None:
    """Remove someone from a project (their answers stay)."""
    with open_context(settings) as ctx:
        service.remove_member(ctx.db, None, project, _member_id(ctx.db, project, user))
    click.echo(f"Removed {user!r} from project {project}")


@members.command("unpause")
@click.argument("project", type=int)
@click.argument("user")
@settings_options
def unpause(project: int, user: str, settings: Settings) -> None:
    """Let a paused member (e.g. low accuracy on gold items) label again."""
    with open_context(settings) as ctx:
        service.update_member(ctx.db, None, project, _member_id(ctx.db, project, user), paused=False)
    click.echo(f"{user!r} may label project {project} again")


@members.command("invite")
@click.argument("project", type=int)
@click.option(
    "--role", type=ROLES, default=Role.ANNOTATOR.value, show_default=True, help="The role the invite gives."
)
@click.option(
    "--days",
    type=float,
    default=invite_service.DEFAULT_DAYS,
    show_default=True,
    help="How long the link works.",
)
@click.option("--base-url", help="The server's address as people reach it (default: http://HOST:PORT).")
@settings_options
def invite(project: int, role: str, days: float, base_url: str | None, settings: Settings) -> None:
    """Create a one-time invite link (shown once) for someone without an account."""
    with open_context(settings) as ctx:
        out = invite_service.create_invite(ctx.db, None, project, Role(role), days=days)
    base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    until = f"{out.expires_at:%Y-%m-%d %H:%M} UTC"
    click.echo(f"Invite {out.id} to project {project} as {out.role.value}, until {until} (shown once):")
    click.echo(f"{base}{out.url}")


@members.command("invites")
@click.argument("project", type=int)
@settings_options
def list_invites(project: int, settings: Settings) -> None:
    """List a project's pending invites (not accepted, revoked or expired)."""
    with open_context(settings) as ctx:
        rows = [
            (i.id, i.role.value, f"{i.created_at:%Y-%m-%d %H:%M}", f"{i.expires_at:%Y-%m-%d %H:%M}")
            for i in invite_service.list_invites(ctx.db, project)
        ]
    click.echo(table(["ID", "ROLE", "CREATED (UTC)", "EXPIRES (UTC)"], rows, right=[0]))


@members.command("revoke-invite")
@click.argument("project", type=int)
@click.argument("invite_id", type=int)
@settings_options
def revoke_invite(project: int, invite_id: int, settings: Settings) -> None:
    """Stop a pending invite from working."""
    with open_context(settings) as ctx:
        invite_service.revoke_invite(ctx.db, None, project, invite_id)
    click.echo(f"Revoked invite {invite_id} of project {project}")


@click.command("team")
@click.argument("project", type=int)
@click.option("--overlap", type=int, help="Answers each item needs from distinct people.")
@click.option("--overlap-max", type=int, help="Adaptive overlap: ask up to this many while answers disagree.")
@click.option("--overlap-agreement", type=float, help="Share of answers that must agree (0.5 to 1).")
@click.option("--gold-rate", type=float, help="Share of each annotator's queue served from gold items.")
@click.option("--gold-min-answers", type=int, help="Gold answers before accuracy can pause someone.")
@click.option("--gold-pause-below", type=float, help="Pause annotators whose gold accuracy falls below this.")
@click.option("--annotator-visibility", type=click.Choice(["own", "all"]), help="What annotators may see.")
@settings_options
def team(project: int, settings: Settings, **given: Any) -> None:
    """Show a project's team settings, or change those given."""
    change = {k: v for k, v in given.items() if v is not None}
    try:
        spec = TeamSettingsUpdate(**change)
    except ValidationError as exc:
        raise input_error(exc) from None
    with open_context(settings) as ctx:
        if change:
            out = team_service.update_team_settings(ctx.db, None, project, spec)
        else:
            out = team_service.get_team_settings(ctx.db, project)
    click.echo(table(["SETTING", "VALUE"], list(out.model_dump().items())))


@click.group()
def gold() -> None:
    """Gold items: known answers mixed into every annotator's queue."""


def _read_marks(path: Path) -> tuple[list[GoldMark], list[int]]:
    """JSONL or CSV rows with ``item_id`` or ``external_id``, and ``label`` (or a JSON ``value``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file: {exc}", file=str(path)) from None
    if path.suffix.lower() == ".csv":
        rows: list[tuple[int, Any]] = [(i + 2, r) for i, r in enumerate(csv.DictReader(text.splitlines()))]
    else:
        rows = []
        for i, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                rows.append((i, json.loads(raw)))
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc.msg}", file=str(path), line=i) from None
    marks: list[GoldMark] = []
    lines: list[int] = []
    for line, row in rows:
        if not isinstance(row, dict):
            raise InputError("each line must be a JSON object", file=str(path), line=line)
        value = row.get("value")
        if value is None and row.get("label") not in (None, ""):
            value = {"label": row["label"]}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise InputError("value is not JSON", file=str(path), line=line, field="value") from None
        if value is None:
            raise InputError("give label or value", file=str(path), line=line, field="label")
        item_id = row.get("item_id")
        try:
            marks.append(
                GoldMark(
                    item_id=int(item_id) if item_id not in (None, "") else None,
                    external_id=str(row["external_id"]) if row.get("external_id") not in (None, "") else None,
                    value=value,
                )
            )
            lines.append(line)
        except (ValidationError, ValueError, TypeError) as exc:
            err = input_error(exc) if isinstance(exc, ValidationError) else InputError(str(exc))
            raise InputError(err.message, file=str(path), line=line, field=err.field or "item_id") from None
    if not marks:
        raise InputError("the file has no rows", file=str(path))
    return marks, lines


@gold.command("mark")
@click.argument("project", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@settings_options
def mark(project: int, file: Path, settings: Settings) -> None:
    """Mark gold items from a JSONL or CSV file (item_id or external_id, and label); all or nothing."""
    marks, lines = _read_marks(file)
    with open_context(settings) as ctx:
        try:
            n = gold_service.mark_gold(ctx.db, None, project, marks)
        except HitloopError as exc:
            # The service names the row as items[i]; the file names it by line.
            if exc.field and exc.field.startswith("items["):
                index = int(exc.field[6 : exc.field.index("]")])
                exc.field = exc.field[exc.field.index("]") + 2 :] or None
                exc.file, exc.line = str(file), lines[index]
            raise
    click.echo(f"Marked {n} gold items in project {project}")


@gold.command("list")
@click.argument("project", type=int)
@settings_options
def list_gold(project: int, settings: Settings) -> None:
    """List gold items with their answers and how often people got them right."""
    with open_context(settings) as ctx:
        rows = [
            (g.item_id, g.external_id or "", json.dumps(g.value), g.answers, g.correct)
            for g in gold_service.list_gold(ctx.db, project)
        ]
    click.echo(table(["ITEM", "EXTERNAL ID", "ANSWER", "ANSWERS", "CORRECT"], rows, right=[0, 3, 4]))


@gold.command("accuracy")
@click.argument("project", type=int)
@settings_options
def accuracy(project: int, settings: Settings) -> None:
    """Each member's accuracy on gold items."""
    with open_context(settings) as ctx:
        rows = [
            (
                a.username,
                a.answers,
                a.correct,
                "" if a.accuracy is None else f"{a.accuracy:.0%}",
                "paused" if a.paused else "",
            )
            for a in gold_service.accuracy(ctx.db, project)
        ]
    click.echo(table(["USER", "GOLD ANSWERS", "CORRECT", "ACCURACY", "STATE"], rows, right=[1, 2, 3]))
