from __future__ import annotations

import gc

from fastapi import FastAPI


def test_health_needs_no_login(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/health").json() == {"status": "ok"}


def test_a_running_app_keeps_its_startup_objects_out_of_the_collectors_walk(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app):
        assert gc.get_freeze_count() > 10_000  # frozen at startup: full collections skip them
    assert gc.get_freeze_count() == 0  # and collectable again once the app stopped


def test_opentelemetry_instrumentation_is_off_unless_asked_for(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hitloop.api import create_app
    from hitloop.settings import Settings

    off = create_app(Settings(data_dir=tmp_path / "a"))
    on = create_app(Settings(data_dir=tmp_path / "b", opentelemetry=True))
    kinds = ("tracing", "metrics", "logs")
    assert [off._telemetry[k] for k in kinds] == [False, False, False]  # type: ignore[literal-required]
    assert [on._telemetry[k] for k in kinds] == [True, True, True]  # type: ignore[literal-required]
