from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from hitloop.cli import cli
from tests.cli.conftest import Run


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"hitloop {version('hitloop')}\n"


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["users", "create", "--help"]], ids=str)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: hitloop")


def test_bad_setting_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITLOOP_PORT", "eighty")
    result = CliRunner().invoke(cli, ["projects", "list"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: field 'HITLOOP_PORT': invalid setting:")
    assert "Traceback" not in result.output


def test_unreachable_database_is_a_user_error() -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/nothing?connect_timeout=2"
    result = CliRunner().invoke(cli, ["projects", "list", "--database-url", url])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot open the database postgresql+psycopg://nobody:***@")
    assert "secret" not in result.output


def test_unusable_data_dir_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(cli, ["users", "list", "--data-dir", str(blocker / "data")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot open the database sqlite:///")
    assert "Traceback" not in result.output


def test_unknown_project_is_a_user_error(run: Run) -> None:
    result = run("projects", "show", 42, expect=2)
    assert result.stderr == "Error: field 'project_id': project 42 not found\n"
