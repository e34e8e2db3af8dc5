"""The project page of a transcribe project shows the recognizer's WER against people and the typing saved."""

from __future__ import annotations

from typing import Any

from hitloop.api.context import AppContext
from hitloop.ml.recognizer import Draft, Word
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import items, projects, speech
from hitloop.services.annotations import submit
from tests.sounds import encode, silence
from tests.web.conftest import WebSession


def test_transcribe_project_page_shows_draft_quality(web: WebSession, ctx: AppContext) -> None:
    spec = ProjectCreate(name="Calls", task="transcribe", modality="audio", labels=[])
    pid = projects.create_project(ctx.db, web.user.id, spec).id
    empty = web.client.get(f"/projects/{pid}")
    assert 'data-speech="none"' in empty.text
    item = items.add_audio(
        ctx.db, ctx.media, pid, None, encode(silence(1.0)), filename="a.wav", limits=ctx.limits
    )
    words = [Word("the", 0.0, 0.2, 0.9), Word("cat", 0.2, 0.5, 0.4), Word("sad", 0.5, 0.8, 0.3)]
    speech._store_draft(ctx.db, pid, item, [(0.0, 1.0, Draft(words))], segmented=False)
    submit(ctx.db, web.user.id, item, AnnotationIn(value={"text": "the cat sat"}, client_key="answer-0001"))
    page: Any = web.client.get(f"/projects/{pid}")
    assert page.status_code == 200
    # One word of three wrong; one keystroke of eleven to fix it.
    assert '<dd data-stat="wer">33.3%</dd>' in page.text
    assert '<dd data-stat="saved">91%</dd>' in page.text
