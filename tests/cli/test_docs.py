"""The generated docs must match the code (run ``python -m hitloop.cli.docs`` to update them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitloop.cli.docs import render_cli_docs, render_settings_docs

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    ("name", "render"),
    [("cli.md", render_cli_docs), ("settings.md", render_settings_docs)],
    ids=["cli", "settings"],
)
def test_generated_docs_are_current(name: str, render: object) -> None:
    committed = (DOCS / name).read_text(encoding="utf-8")
    assert callable(render)
    assert committed == render(), f"docs/{name} is out of date: run `python -m hitloop.cli.docs`"


def test_every_setting_is_documented() -> None:
    from hitloop.settings import Settings

    text = render_settings_docs()
    for name in Settings.model_fields:
        assert f"`HITLOOP_{name.upper()}`" in text
