"""Run the command line in-process against the test database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hitloop.api.context import AppContext
from hitloop.cli import cli
from hitloop.settings import Settings

Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own HITLOOP_* variables must not leak into the commands under test."""
    for name in list(os.environ):
        if name.startswith("HITLOOP_"):
            monkeypatch.delenv(name)


@pytest.fixture
def run(settings: Settings, ctx: AppContext) -> Run:
    """``run("projects", "list")`` invokes ``hitloop projects list`` on the test database.

    ``expect`` is the exit code the test expects (checked, with the output in the
    failure message); ``input`` is standard input.
    """

    def invoke(*args: object, input: str | bytes | None = None, expect: int = 0) -> Result:
        argv = [str(a) for a in args]
        argv += ["--data-dir", str(settings.data_dir), "--database-url", settings.resolved_database_url()]
        result = CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)
        assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
        if expect != 0:
            assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write("name.jsonl", text)`` writes a file under tmp_path and returns its path."""

    def make(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return make
