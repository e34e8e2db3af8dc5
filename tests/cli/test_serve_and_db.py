from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from hitloop.cli import cli
from hitloop.cli.serve import server_url
from hitloop.settings import Settings
from tests.cli.conftest import Run


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


def test_serve(run: Run, uvicorn_calls: list[dict[str, Any]]) -> None:
    result = run("serve", "--port", "9000")
    assert result.stdout.startswith("hitloop is running at http://127.0.0.1:9000/")
    (call,) = uvicorn_calls
    assert isinstance(call["app"], FastAPI)
    assert (call["host"], call["port"], call["log_level"]) == ("127.0.0.1", 9000, "info")
    assert call["http"] == "hitloop.api.protocol:HttpProtocol"


def test_serve_with_workers_passes_settings_through_the_environment(
    run: Run, settings: Settings, uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITLOOP_DATA_DIR", "restored-after-the-test")
    monkeypatch.setenv("HITLOOP_DATABASE_URL", "restored-after-the-test")
    run("serve", "--host", "0.0.0.0", "--workers", "3")
    (call,) = uvicorn_calls
    assert (call["app"], call["factory"], call["workers"]) == ("hitloop.api:create_app", True, 3)
    assert os.environ["HITLOOP_DATABASE_URL"] == settings.resolved_database_url()
    assert Path(os.environ["HITLOOP_DATA_DIR"]) == settings.data_dir.resolve()


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:80/"), ("0.0.0.0", "http://127.0.0.1:80/"), ("::1", "http://[::1]:80/")],
)
def test_server_url(host: str, url: str) -> None:
    assert server_url(host, 80) == url


def test_db_upgrade_and_current(run: Run) -> None:
    assert "is at the newest revision" in run("db", "upgrade").stdout
    assert run("db", "current").stdout.endswith("(newest)\n")


def test_db_current_does_not_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    runner = CliRunner()
    before = runner.invoke(cli, ["db", "current", "--database-url", url])
    assert before.exit_code == 0 and before.stdout.startswith("none (the database is empty")
    assert runner.invoke(cli, ["db", "upgrade", "--database-url", url]).exit_code == 0
    assert runner.invoke(cli, ["db", "current", "--database-url", url]).stdout.endswith("(newest)\n")
