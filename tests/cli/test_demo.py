from __future__ import annotations

import socket
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Item
from hitloop.services import auth, projects
from hitloop.services.demo import DIGITS_PROJECT, SENTIMENT_PROJECT, digit_png, sentiment_sentences
from tests.cli.conftest import Run
from tests.servers import free_port


@pytest.mark.slow  # a few seconds: 1,797 images rendered and stored
def test_demo_setup_is_complete_and_idempotent(run: Run, ctx: AppContext) -> None:
    first = run("demo", "--no-serve")
    assert "Login: demo / demo-password" in first.stdout
    assert auth.login(ctx.db, "demo", "demo-password").is_admin

    by_name = {p.name: p for p in projects.list_projects(ctx.db)}
    digits, reviews = by_name[DIGITS_PROJECT], by_name[SENTIMENT_PROJECT]
    assert digits.modality.value == "image" and sorted(digits.labels) == [str(d) for d in range(10)]
    # The instructions say "press its number key": key 1..9 picks the 1st..9th label, 0 the 10th.
    assert all(digits.labels[(int(d) - 1) % 10] == d for d in digits.labels)
    assert digits.stats is not None and digits.stats.total == 1797
    assert reviews.modality.value == "text" and reviews.stats is not None and reviews.stats.total == 200

    with ctx.db.read() as s:
        images = s.execute(select(Item.media_sha256, Item.meta).where(Item.project_id == digits.id)).all()
        texts = s.execute(select(Item.text, Item.meta).where(Item.project_id == reviews.id)).all()
    assert all(sha is not None and ctx.media.exists(sha) for sha, _ in images)
    truth = Counter(meta["true_label"] for _, meta in images)
    assert set(truth) == set(digits.labels) and min(truth.values()) > 150
    assert Counter(meta["true_label"] for _, meta in texts) == {"positive": 100, "negative": 100}
    assert len({text for text, _ in texts}) == 200

    second = run("demo", "--no-serve")
    assert second.stdout.startswith("Reusing the demo")
    assert [p.stats.total for p in projects.list_projects(ctx.db) if p.stats] == [1797, 200]
    assert len(auth.list_users(ctx.db)) == 1


def test_demo_serves_after_setup(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    # Seeding is covered above; here only the hand-over to the server matters.
    monkeypatch.setattr("hitloop.cli.demo.ensure_demo", _no_seed)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    port = free_port()
    result = run("demo", "--port", port)
    assert "Login: demo / demo-password" in result.stdout
    assert f"hitloop is running at http://127.0.0.1:{port}/" in result.stdout
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == port


def test_demo_on_a_port_in_use_fails_before_its_setup(
    run: Run, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("demo", "--port", port, expect=2)
    assert result.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use (another hitloop server?); "
        "choose another with --port\n"
    )
    assert result.stdout == "" and calls == []
    assert projects.list_projects(ctx.db) == [] and auth.list_users(ctx.db) == []


def _no_seed(_ctx: AppContext) -> Any:
    from hitloop.services.demo import DemoInfo

    return DemoInfo(username="demo", password="demo-password", user_created=False, projects=[])


def test_digit_png_is_dark_on_white_and_crisp() -> None:
    import io

    import numpy as np
    from PIL import Image

    pixels = np.zeros((8, 8))
    pixels[2, 3] = 16
    with Image.open(io.BytesIO(digit_png(pixels))) as image:
        assert image.size == (128, 128) and image.mode == "L"
        grid = np.asarray(image)
    assert grid[0, 0] == 255  # background white
    assert (grid[32:48, 48:64] == 0).all()  # the ink pixel is a solid 16x16 black block
    assert set(np.unique(grid)) == {0, 255}


def test_sentiment_sentences_are_fixed() -> None:
    assert sentiment_sentences() == sentiment_sentences()
    assert len(set(sentiment_sentences())) == 200
