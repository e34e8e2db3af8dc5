from __future__ import annotations


def test_health_needs_no_login(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/health").json() == {"status": "ok"}
