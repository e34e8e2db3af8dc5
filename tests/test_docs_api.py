"""docs/api.md lists every route the server has."""

from __future__ import annotations

import re
from pathlib import Path

from hitloop.api import create_app
from hitloop.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(?:GET|POST|DELETE|PUT|PATCH) (/api/[^`]*)`", text))
    missing = [path for path in app.openapi()["paths"] if path not in documented]
    assert missing == []
