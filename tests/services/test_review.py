"""Review decisions and queues, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from hitloop.db.tables import Annotation, Event, Item, ModelVersion, Project
from hitloop.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate, ReviewDecision
from hitloop.services import annotations, auth, items, projects, queue, review
from hitloop.services.annotations import iter_export_rows
from hitloop.services.label_error_queue import label_error_queue


def answer(ctx: Any, user_id: int, item_id: int, label: str, shown: dict[str, Any] | None = None) -> int:
    body = AnnotationIn(value={"label": label}, client_key=uuid.uuid4().hex, shown=shown)
    return annotations.submit(ctx.db, user_id, item_id, body).id


@pytest.fixture
def team(ctx: Any) -> dict[str, Any]:
    users = {name: auth.create_user(ctx.db, name, f"{name}-password") for name in ("alice", "bob", "rita")}
    project = projects.create_project(
        ctx.db, users["rita"].id, ProjectCreate(name="r", labels=["cat", "dog", "bird"])
    )
    ids = items.add_items(ctx.db, project.id, None, [ItemIn(text=f"t{i}") for i in range(4)], ctx.limits)
    return {"project": project.id, "items": ids, **{k: v.id for k, v in users.items()}}


def _row(ctx: Any, annotation_id: int) -> Annotation:
    with ctx.db.read() as s:
        row = s.get(Annotation, annotation_id)
        assert row is not None
        s.expunge(row)
        return row


def _item(ctx: Any, item_id: int) -> Item:
    with ctx.db.read() as s:
        row = s.get(Item, item_id)
        assert row is not None
        s.expunge(row)
        return row


def _events(ctx: Any, project_id: int) -> list[tuple[str, str | None]]:
    with ctx.db.read() as s:
        return list(
            s.execute(select(Event.action, Event.object_id).where(Event.project_id == project_id)).tuples()
        )


def test_accept_fix_reject_are_versioned_and_audited(ctx: Any, team: dict[str, Any]) -> None:
    p, (i1, i2, i3, _i4) = team["project"], team["items"]
    a1 = answer(ctx, team["alice"], i1, "cat")
    a2 = answer(ctx, team["alice"], i2, "dog")
    b3 = answer(ctx, team["bob"], i3, "cat")

    pending = review.pending_queue(ctx.db, p, team["rita"])
    assert pending.total == 3
    assert [e.item.id for e in pending.entries] == [i1, i2, i3]
    assert pending.entries[0].answers[0].username == "alice"

    accepted = review.review_annotation(ctx.db, team["rita"], a1, ReviewDecision(action="accept"))
    assert (accepted.review, accepted.item_state) == ("accepted", "done")
    assert _row(ctx, a1).reviewed_by == team["rita"]
    assert review.pending_queue(ctx.db, p, team["rita"]).total == 2

    rejected = review.review_annotation(
        ctx.db, team["rita"], a2, ReviewDecision(action="reject", note="blurry")
    )
    assert (rejected.review, rejected.item_state) == ("rejected", "open")
    row = _row(ctx, a2)
    assert row.superseded_by == a2 and row.value == {"label": "dog"}  # withdrawn, not deleted
    assert _item(ctx, i2).n_answers == 0
    # The item goes to someone else, never back to the person whose answer was rejected.
    assert i2 not in [it.id for it in queue.next_items(ctx.db, p, team["alice"], count=10)]
    assert i2 in [it.id for it in queue.next_items(ctx.db, p, team["bob"], count=10)]

    fixed = review.review_annotation(
        ctx.db, team["rita"], b3, ReviewDecision(action="fix", value={"label": "bird"})
    )
    assert fixed.review == "fixed" and fixed.fixed_by is not None
    new = _row(ctx, fixed.fixed_by)
    assert (new.user_id, new.value, new.label) == (team["rita"], {"label": "bird"}, "bird")
    assert new.shown == {"review_of": b3, "before": {"label": "cat"}}
    assert _row(ctx, b3).superseded_by == fixed.fixed_by
    assert _item(ctx, i3).n_answers == 1

    current = {r["item_id"]: (r["annotator"], r["label"]) for r in iter_export_rows(ctx.db, p)}
    assert current == {i1: ("alice", "cat"), i3: ("rita", "bird")}
    actions = [a for a, _ in _events(ctx, p) if a.startswith("annotation.")]
    assert actions == ["annotation.accepted", "annotation.rejected", "annotation.fixed"]


def test_bad_decisions_are_refused_and_change_nothing(ctx: Any, team: dict[str, Any]) -> None:
    p, (i1, i2, *_rest) = team["project"], team["items"]
    a1 = answer(ctx, team["alice"], i1, "cat")
    own = answer(ctx, team["rita"], i2, "dog")
    before = (_row(ctx, a1), _events(ctx, p))

    cases: list[tuple[int, ReviewDecision, type[Exception], str | None]] = [
        (a1, ReviewDecision(action="fix", value={"label": "horse"}), InputError, "value.label"),
        (a1, ReviewDecision(action="fix"), InputError, "value"),
        (a1, ReviewDecision(action="accept", value={"label": "cat"}), InputError, "value"),
        (own, ReviewDecision(action="accept"), PermissionDeniedError, "annotation_id"),
        (999_999, ReviewDecision(action="accept"), NotFoundError, "annotation_id"),
    ]
    for annotation_id, decision, error, field in cases:
        with pytest.raises(error) as info:
            review.review_annotation(ctx.db, team["rita"], annotation_id, decision)
        assert info.value.field == field, (decision, info.value.message)
    after = _row(ctx, a1)
    assert (after.review, after.superseded_by, after.value) == (None, None, {"label": "cat"})
    assert _events(ctx, p) == before[1]

    review.review_annotation(ctx.db, team["rita"], a1, ReviewDecision(action="accept"))
    with pytest.raises(ConflictError):
        review.review_annotation(ctx.db, team["rita"], a1, ReviewDecision(action="accept"))
    review.review_annotation(ctx.db, team["rita"], a1, ReviewDecision(action="reject"))
    with pytest.raises(ConflictError):  # withdrawn: nothing left to review
        review.review_annotation(
            ctx.db, team["rita"], a1, ReviewDecision(action="fix", value={"label": "dog"})
        )


def test_fix_is_refused_when_the_reviewer_answered_the_item_too(ctx: Any, team: dict[str, Any]) -> None:
    p, i1 = team["project"], team["items"][0]
    with ctx.db.write() as s:
        s.execute(update(Project).where(Project.id == p).values(overlap=2, overlap_max=2))
    a1 = answer(ctx, team["alice"], i1, "cat")
    answer(ctx, team["rita"], i1, "dog")
    with pytest.raises(ConflictError, match="answered item"):
        review.review_annotation(
            ctx.db, team["rita"], a1, ReviewDecision(action="fix", value={"label": "dog"})
        )


def test_disagreement_queue_ranks_the_least_agreed_first(ctx: Any, team: dict[str, Any]) -> None:
    p, (i1, i2, i3, i4) = team["project"], team["items"]
    carol = auth.create_user(ctx.db, "carol", "carol-password").id
    with ctx.db.write() as s:
        s.execute(update(Project).where(Project.id == p).values(overlap=3, overlap_max=3))
    votes = {
        i1: ["cat", "cat", "cat"],  # unanimous: not listed
        i2: ["cat", "dog", "bird"],  # 1/3
        i3: ["cat", "cat", "dog"],  # 2/3
        i4: ["dog", "bird"],  # 1/2
    }
    for item, labels in votes.items():
        for user, label in zip((team["alice"], team["bob"], carol), labels, strict=False):
            answer(ctx, user, item, label)
    q = review.disagreement_queue(ctx.db, p)
    assert q.total == 3
    assert [(e.item.id, round(e.score or 0, 3)) for e in q.entries] == [(i2, 0.333), (i4, 0.5), (i3, 0.667)]
    assert [a.value for a in q.entries[0].answers] == [{"label": "cat"}, {"label": "dog"}, {"label": "bird"}]
    assert [e.item.id for e in review.disagreement_queue(ctx.db, p, limit=1, offset=1).entries] == [i4]


def test_anchoring_compares_preselected_with_not(ctx: Any, team: dict[str, Any]) -> None:
    p = team["project"]
    ids = items.add_items(ctx.db, p, None, [ItemIn(text=f"x{i}") for i in range(6)], ctx.limits)
    with ctx.db.write() as s:  # the lineage names a model of this project (checked at submit)
        version = ModelVersion(project_id=p, learner="logreg", params={}, n_train=3, created_at=0.0)
        s.add(version)
        s.flush()
        suggested = {"value": {"label": "cat"}, "model_version_id": version.id}
    # Pre-selected: 3 of 3 kept the suggestion. Not pre-selected: 1 of 3 chose it.
    for item, label, pre in zip(
        ids, ["cat", "cat", "cat", "cat", "dog", "bird"], [True] * 3 + [False] * 3, strict=True
    ):
        answer(ctx, team["alice"], item, label, shown={**suggested, "preselected": pre})
    answer(ctx, team["alice"], team["items"][0], "dog")  # no suggestion shown: not counted
    out = review.anchoring(ctx.db, p)
    assert (out.preselected.answers, out.preselected.same_as_suggestion, out.preselected.rate) == (3, 3, 1.0)
    assert (out.not_preselected.answers, out.not_preselected.same_as_suggestion) == (3, 1)
    assert out.not_preselected.rate == pytest.approx(1 / 3)


CATS = [
    "the cat purrs and sleeps on the warm sofa",
    "a kitten chases the cat toy mouse",
    "my cat meows for fish",
]
MONEY = [
    "the stock market fell as shares dropped",
    "bank raises interest rates on loans",
    "investors sell shares",
]


def flipped_topics(ctx: Any, owner: int, annotator: int) -> tuple[int, set[int]]:
    """A project of 30 pet and finance texts, all answered, two of them with the wrong label."""
    project = projects.create_project(ctx.db, owner, ProjectCreate(name="topics", labels=["pets", "finance"]))
    texts = [(f"{CATS[i % 3]} {i}", "pets") for i in range(15)] + [
        (f"{MONEY[i % 3]} {i}", "finance") for i in range(15)
    ]
    ids = items.add_items(ctx.db, project.id, None, [ItemIn(text=t) for t, _ in texts], ctx.limits)
    flipped = {ids[2], ids[20]}
    for item, (_, label) in zip(ids, texts, strict=True):
        if item in flipped:
            label = "finance" if label == "pets" else "pets"
        answer(ctx, annotator, item, label)
    return project.id, flipped


def test_label_error_queue_finds_flipped_labels(ctx: Any, team: dict[str, Any], media: Any) -> None:
    project_id, flipped = flipped_topics(ctx, team["rita"], team["alice"])
    q = label_error_queue(ctx.db, media, project_id)
    assert q.note is None
    top = {e.item.id for e in q.entries[:2]}
    assert top == flipped
    first = q.entries[0]
    assert first.given != first.suggested and first.score is not None and first.score < 0.5


def test_label_error_queue_explains_when_there_is_too_little(
    ctx: Any, team: dict[str, Any], media: Any
) -> None:
    answer(ctx, team["alice"], team["items"][0], "cat")
    q = label_error_queue(ctx.db, media, team["project"])
    assert q.total == 0 and q.note is not None and "at least" in q.note
    with pytest.raises(NotFoundError):
        label_error_queue(ctx.db, media, 424242)


def test_label_error_queue_on_images(ctx: Any, team: dict[str, Any], media: Any) -> None:
    import io

    from PIL import Image

    project = projects.create_project(
        ctx.db, team["rita"], ProjectCreate(name="shades", modality="image", labels=["dark", "light"])
    )
    ids, truth = [], []
    for i in range(16):
        light = i % 2 == 1
        buf = io.BytesIO()
        Image.new("L", (12, 12), 200 + i if light else 20 + i).save(buf, format="PNG")
        ids.append(
            items.add_image(
                ctx.db, media, project.id, None, buf.getvalue(), filename=f"{i}.png", limits=ctx.limits
            )
        )
        truth.append("light" if light else "dark")
    flipped = ids[4]
    for item, label in zip(ids, truth, strict=True):
        answer(
            ctx, team["alice"], item, ("light" if label == "dark" else "dark") if item == flipped else label
        )
    q = label_error_queue(ctx.db, media, project.id)
    assert [e.item.id for e in q.entries][:1] == [flipped]
    assert (q.entries[0].given, q.entries[0].suggested) == ("light", "dark")
