"""Turn posted form fields into wire schemas, with the API's error messages."""

from __future__ import annotations

from pydantic import ValidationError

from hitloop.errors import InputError
from hitloop.schemas import ProjectCreate
from hitloop.types import Modality, Role, TaskType
from hitloop.web.contexts import ProjectForm

__all__ = ["describe", "parse_project_form", "parse_role", "split_labels"]

ROLE_NAMES = tuple(r.value for r in Role)


def parse_role(value: str) -> Role:
    """A role chosen in a form."""
    try:
        return Role(value)
    except ValueError:
        raise InputError(f"unknown role {value!r}; one of {', '.join(ROLE_NAMES)}", field="role") from None


def split_labels(text: str) -> list[str]:
    """One label per line; a single line may list them comma separated. Blank entries are dropped."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) == 1:
        lines = [part.strip() for part in lines[0].split(",") if part.strip()]
    return lines


def _choice(enum: type[TaskType] | type[Modality], value: str, field: str) -> str:
    allowed = [m.value for m in enum]
    if value not in allowed:
        raise InputError(f"choose one of {', '.join(allowed)}", field=field)
    return value


def parse_project_form(form: ProjectForm) -> ProjectCreate:
    """Raises :class:`InputError` naming the field, as the JSON API would."""
    if not form.name.strip():
        raise InputError("a project needs a name", field="name")
    try:
        return ProjectCreate(
            name=form.name,
            task=TaskType(_choice(TaskType, form.task, "task")),
            modality=Modality(_choice(Modality, form.modality, "modality")),
            labels=split_labels(form.labels),
            instructions=form.instructions,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InputError(str(first["msg"]), field=field) from None


def describe(exc: InputError) -> str:
    """``field: message``, the way the form shows an error."""
    return f"{exc.field}: {exc.message}" if exc.field else exc.message
