"""The browser fixtures of tests/web (Debian's Chromium), for the security tests that drive a browser."""

from __future__ import annotations

from tests.web.conftest import browser_context_args, browser_type_launch_args

__all__ = ["browser_context_args", "browser_type_launch_args"]
