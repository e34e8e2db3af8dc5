"""The SDK loads without the server's packages, and ``import hitloop`` stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

SERVER_MODULES = ("sqlalchemy", "fastapi", "starlette", "hitloop.db", "hitloop.api", "hitloop.services")


def _run(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_client_imports_no_server_module() -> None:
    _run(f"import hitloop.client, sys; assert not any(m.startswith({SERVER_MODULES!r}) for m in sys.modules)")


def test_import_hitloop_loads_no_http_stack() -> None:
    _run("import hitloop, sys; assert 'httpx' not in sys.modules and 'hitloop.client' not in sys.modules")


def test_client_is_reexported_lazily() -> None:
    import hitloop
    from hitloop.client import Client

    assert hitloop.Client is Client
    assert "Client" in dir(hitloop)
    with pytest.raises(AttributeError):
        _ = hitloop.NoSuchThing  # type: ignore[attr-defined]
