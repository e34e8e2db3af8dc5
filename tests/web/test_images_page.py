"""The project page of an image project: thumbnails, and the boxes card of a boxes project."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, auth, boxes, items, members, projects
from hitloop.services.policy import Role
from hitloop.types import Modality, TaskType
from tests.web.conftest import WebSession, log_in


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def _boxes_project(ctx: Any, user_id: int) -> tuple[int, int]:
    spec = ProjectCreate(name="Faces", task=TaskType.BOXES, modality=Modality.IMAGE, labels=["face"])
    pid = projects.create_project(ctx.db, user_id, spec).id
    item = items.add_image(
        ctx.db, ctx.media, pid, user_id, _png((300, 200)), filename="a.png", limits=ctx.limits
    )
    suggested = [
        {"x": 10, "y": 10, "w": 50, "h": 50, "label": "face"},
        {"x": 100, "y": 100, "w": 40, "h": 40, "label": "face"},
    ]
    boxes._write_suggestions(ctx.db, pid, {item: suggested}, {"source": "test"})
    return pid, item


def test_the_boxes_card_counts_what_people_did_with_suggestions(web: WebSession, ctx: Any) -> None:
    pid, item = _boxes_project(ctx, web.user.id)
    value = {"boxes": [{"x": 10, "y": 10, "w": 50, "h": 50, "label": "face"}]}
    annotations.submit(ctx.db, web.user.id, item, AnnotationIn(value=value, client_key="page-key-1"))
    html = web.client.get(f"/projects/{pid}").text
    assert '<dd data-stat="kept">1</dd>' in html
    assert '<dd data-stat="deleted">1</dd>' in html
    assert '<dd data-stat="precision">0.50</dd>' in html and '<dd data-stat="recall">1.00</dd>' in html
    # IoU person-suggestion: the kept box (IoU 1) over 2 suggested + 1 drawn - 1 matched; no second person.
    assert '<dd data-stat="agreement">0.50</dd>' in html
    assert '<dd data-stat="people">–</dd>' in html
    assert f'href="/api/projects/{pid}/coco"' in html
    assert f'src="/api/items/{item}/thumbnail"' in html
    thumb = web.client.get(f"/api/items/{item}/thumbnail")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (256, 171)


def test_annotators_see_neither_answers_nor_other_items(web: WebSession, ctx: Any, client: Any) -> None:
    pid, item = _boxes_project(ctx, web.user.id)
    ann = auth.create_user(ctx.db, "ann", "ann-password-1")
    members.add_member(ctx.db, None, pid, ann.username, Role.ANNOTATOR)
    client.cookies.clear()
    assert log_in(client, "ann", "ann-password-1").status_code == 303
    html = client.get(f"/projects/{pid}").text
    assert 'data-stat="kept"' not in html and "/thumbnail" not in html
    assert client.get(f"/api/projects/{pid}/boxes/quality").status_code == 403
    assert client.get(f"/api/items/{item}/thumbnail").status_code == 404  # never served to them
