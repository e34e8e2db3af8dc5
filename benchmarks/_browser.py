"""Shared by the browser benchmarks (box_editor.py, audio_browser.py): a real server in a
thread and a headless Chromium session logged in as the benchmark user."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

PASSWORD = "bench-password-1"
VIEWPORT = {"width": 1280, "height": 800}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: Any) -> tuple[str, Any]:
    """Run ``app`` under uvicorn in a daemon thread; (base URL, server) once /api/health answers."""
    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return url, server
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])


def login_state(browser: Any, url: str, username: str = "bench", password: str = PASSWORD) -> Any:
    """Log in through the login form once; the storage state (session cookie) for fresh contexts."""
    login = browser.new_context(viewport=VIEWPORT)
    page = login.new_page()
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{url}/")
    state = login.storage_state()
    login.close()
    return state
