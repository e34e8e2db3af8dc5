"""The generated docs must match the code (run ``python -m hitloop.cli.docs`` to update them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitloop.cli.docs import main, render_cli_docs, render_settings_docs

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


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["--help"], 0), (["-h"], 0), (["--out", "x"], 2), (["a", "b"], 2)],
    ids=["help", "h", "unknown-option", "two-directories"],
)
def test_the_generator_takes_no_option_for_a_directory(
    argv: list[str],
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    out = capsys.readouterr()
    assert (out.out if code == 0 else out.err).startswith("usage: python -m hitloop.cli.docs")
    assert list(tmp_path.iterdir()) == []  # no folder named "--help", no docs/ written


def test_the_generator_writes_into_the_directory_given(tmp_path: Path) -> None:
    assert main([str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cli.md",
        "settings.md",
        "simulate-report.schema.json",
    ]
    assert (tmp_path / "out" / "cli.md").read_text(encoding="utf-8") == render_cli_docs()
