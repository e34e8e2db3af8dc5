from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from hitloop.cli import cli
from hitloop.cli.serve import server_url
from hitloop.settings import Settings
from tests.cli.conftest import Run
from tests.servers import free_port


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


def test_serve(run: Run, uvicorn_calls: list[dict[str, Any]]) -> None:
    port = free_port()
    result = run("serve", "--port", port)
    assert result.stdout.startswith(f"hitloop is running at http://127.0.0.1:{port}/")
    (call,) = uvicorn_calls
    assert isinstance(call["app"], FastAPI)
    assert (call["host"], call["port"], call["log_level"]) == ("127.0.0.1", port, "info")
    assert call["http"] == "hitloop.api.protocol:HttpProtocol"


def test_serve_on_a_port_in_use_says_so_and_does_not_start(
    run: Run, uvicorn_calls: list[dict[str, Any]]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", port, expect=2)
    # Not "hitloop is running at ..." followed by uvicorn's bind error and exit code 3.
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use (another hitloop server?); "
        "choose another with --port\n"
    )
    assert uvicorn_calls == []


def test_serve_with_workers_passes_settings_through_the_environment(
    run: Run, settings: Settings, uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITLOOP_DATA_DIR", "restored-after-the-test")
    monkeypatch.setenv("HITLOOP_DATABASE_URL", "restored-after-the-test")
    run("serve", "--host", "0.0.0.0", "--port", free_port(), "--workers", "3")
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
