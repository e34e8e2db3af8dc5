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
