"""How the command line reports errors: ``Error: <what and where>`` on stderr, exit code 2."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from hitloop.errors import HitloopError, InputError, MissingExtraError

__all__ = ["EXIT_USER_ERROR", "CommandError", "ErrorReportingGroup", "input_error"]

EXIT_USER_ERROR = 2


class CommandError(click.ClickException):
    """A user error: click prints ``Error: message`` to stderr and exits with code 2."""

    exit_code = EXIT_USER_ERROR


class ErrorReportingGroup(click.Group):
    """The root group: turns :class:`HitloopError` from any command into a :class:`CommandError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HitloopError as exc:
            raise CommandError(exc.describe()) from exc
        except MissingExtraError as exc:  # the message names the extra to install
            raise CommandError(str(exc)) from None


def input_error(exc: ValidationError, *, env_prefix: str | None = None) -> InputError:
    """The first problem pydantic found, as an :class:`InputError` naming the field.

    With ``env_prefix`` the field is named as its environment variable (for settings).
    The offending value is left out on purpose: it may be a password.
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    if field is not None and env_prefix is not None:
        field = env_prefix + field.upper()
    message = first["msg"]
    if env_prefix is not None:
        message = f"invalid setting: {message}"
    return InputError(message, field=field)
