"""Every Python block in docs/sdk.md runs, in order, against the in-process server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hitloop.client
from hitloop.client import Client

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_sdk_guide_runs(
    transport,  # type: ignore[no-untyped-def]
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class InProcessClient(Client):
        def __init__(self, url: str = "", token: str | None = None, **kwargs: object) -> None:
            super().__init__("http://testserver", token, transport=transport, backoff=0)

    monkeypatch.setattr(hitloop.client, "Client", InProcessClient)
    monkeypatch.setenv("HITLOOP_TOKEN", token)
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": "sdk_guide"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == [
        "3 items",
        "3 answered",
        "1 positive",
        "2 negative",
        "{'label': 'positive'} One more.",
        "project-1.csv",
        "value.label - unknown label 'maybe'",
        "field 'project_id': project 10000 not found",
    ]
