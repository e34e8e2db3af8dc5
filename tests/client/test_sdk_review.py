"""The SDK's review and quality methods against the in-process app: queues, decisions, consensus."""

from __future__ import annotations

from typing import Any

import pytest

from hitloop.client import Client
from hitloop.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hitloop.schemas import ProjectOut
from hitloop.services import auth


def _as(ctx: Any, sdk: Client, transport: Any, project: ProjectOut, name: str, role: str) -> Client:
    user = auth.create_user(ctx.db, name, f"{name}-password")
    sdk.add_member(project.id, name, role)
    _, secret = auth.create_token(ctx.db, user.id, "t")
    return Client("http://testserver", secret, transport=transport, backoff=0)


@pytest.fixture
def team(sdk: Client, project: ProjectOut, ctx: Any, transport: Any) -> dict[str, Any]:
    """Two annotators who answered the same three items (overlap 2), and a reviewer."""
    sdk.add_items(project.id, ["good film", "awful film", "a film"])
    sdk.update_team_settings(project.id, overlap=2)
    ann = _as(ctx, sdk, transport, project, "ann", "annotator")
    bob = _as(ctx, sdk, transport, project, "bob", "annotator")
    rev = _as(ctx, sdk, transport, project, "rev", "reviewer")
    answers: dict[tuple[str, str], int] = {}
    truth = {"good film": "pos", "awful film": "neg", "a film": "neutral"}
    for name, person in (("ann", ann), ("bob", bob)):
        for item in person.next(project.id, count=3):
            text = item.text
            label = truth[text] if name == "ann" or text != "a film" else "pos"
            answers[(name, text)] = person.submit(item.id, label=label).id
    yield {"ann": ann, "bob": bob, "rev": rev, "answers": answers}
    for person in (ann, bob, rev):
        person.close()


def test_review_queues_and_decisions(sdk: Client, project: ProjectOut, team: dict[str, Any]) -> None:
    rev, ann, answers = team["rev"], team["ann"], team["answers"]
    pending = rev.review_queue(project.id)
    assert pending.queue == "pending" and pending.total == 3
    assert {a.username for e in pending.entries for a in e.answers} == {"ann", "bob"}
    assert len(rev.review_queue(project.id, limit=2).entries) == 2
    assert len(rev.review_queue(project.id, limit=2, offset=2).entries) == 1

    disagreement = rev.review_queue(project.id, "disagreement")
    [entry] = disagreement.entries
    assert entry.item.text == "a film" and entry.score == 0.5

    assert rev.accept(answers[("ann", "good film")], note="fine").review == "accepted"
    with pytest.raises(ConflictError):
        rev.accept(answers[("ann", "good film")])
    fixed = rev.fix(answers[("bob", "a film")], "neutral", note="no opinion in it")
    assert fixed.review == "fixed" and fixed.fixed_by is not None
    rejected = rev.reject(answers[("bob", "awful film")], note="guess")
    # overlap 2: one answer left, so the item waits for one more person
    assert (rejected.review, rejected.item_state) == ("rejected", "partial")
    assert rev.review_queue(project.id, "disagreement").total == 0

    events = sdk.audit(project.id, limit=3)
    assert [e.action for e in events.events] == [
        "annotation.rejected",
        "annotation.fixed",
        "annotation.accepted",
    ]
    assert events.events[0].detail["note"] == "guess" and events.next_before is not None
    older = sdk.audit(project.id, before=events.next_before)
    assert all(e.id < events.next_before for e in older.events)

    # what was fixed shows as the reviewer's answer, in the consensus too
    labels = {c.item_id: c.label for c in sdk.consensus(project.id).items}
    assert labels[entry.item.id] == "neutral"

    with pytest.raises(PermissionDeniedError):
        ann.accept(answers[("bob", "good film")])
    with pytest.raises(PermissionDeniedError):
        ann.review_queue(project.id)


def test_bad_review_input_is_refused_and_changes_nothing(
    sdk: Client, project: ProjectOut, team: dict[str, Any]
) -> None:
    rev, answers = team["rev"], team["answers"]
    before = sdk.audit(project.id).events[0].id
    with pytest.raises(InputError) as info:
        rev.fix(answers[("ann", "a film")], "maybe")
    assert info.value.field == "value.label"
    with pytest.raises(InputError) as info:
        rev.review(answers[("ann", "a film")], "approve")  # type: ignore[arg-type]
    assert info.value.field == "action"
    with pytest.raises(InputError) as info:
        rev.review_queue(project.id, "mine")  # type: ignore[arg-type]
    assert info.value.field == "queue"
    with pytest.raises(NotFoundError) as info:
        rev.accept(999_999)
    assert info.value.field == "annotation_id"
    assert sdk.audit(project.id).events[0].id == before
    assert rev.review_queue(project.id).total == 3


def test_agreement_consensus_and_anchoring(sdk: Client, project: ProjectOut, team: dict[str, Any]) -> None:
    agreement = team["rev"].agreement(project.id)
    assert agreement.items == 3 and agreement.answers == 6
    assert agreement.annotators == ["ann", "bob"]
    [pair] = agreement.pairs
    # ann: pos neg neutral, bob: pos neg pos -> p_o = 2/3, p_e = (1*2 + 1*1 + 1*0) / 9 = 1/3, kappa = 0.5
    assert (pair.a, pair.b, pair.shared, pair.kappa) == ("ann", "bob", 3, 0.5)

    consensus = sdk.consensus(project.id, method="majority-vote")
    assert consensus.method == "majority-vote" and len(consensus.items) == 3
    assert {a.username for a in consensus.annotators} == {"ann", "bob"}
    streamed = list(sdk.iter_consensus(project.id, method="majority-vote"))
    assert [(c.item_id, c.label) for c in streamed] == [(c.item_id, c.label) for c in consensus.items]

    assert sdk.set_consensus_method(project.id, "one-coin-dawid-skene") == "one-coin-dawid-skene"
    assert sdk.consensus(project.id).method == "one-coin-dawid-skene"
    with pytest.raises(InputError) as info:
        sdk.set_consensus_method(project.id, "best")
    assert info.value.field == "method"
    with pytest.raises(PermissionDeniedError):
        team["rev"].set_consensus_method(project.id, "glad")

    anchoring = sdk.anchoring(project.id)
    assert anchoring.preselected.answers == 0 and anchoring.not_preselected.answers == 0


def test_fix_a_multilabel_answer_with_labels(sdk: Client, ctx: Any, transport: Any) -> None:
    project = sdk.create_project("Tags", ["red", "round", "small"], task="multilabel")
    sdk.add_items(project.id, ["a ball", "a box"])
    ann = _as(ctx, sdk, transport, project, "ann", "annotator")
    first, second = (ann.submit(item.id, labels=["red"]) for item in ann.next(project.id, count=2))
    fixed = sdk.fix(first.id, ["red", "round"])
    assert fixed.review == "fixed" and fixed.fixed_by is not None
    with pytest.raises(InputError) as info:
        sdk.fix(second.id, ["blue"])
    assert info.value.field is not None and info.value.field.startswith("value")
    rows = {row["item_id"]: sorted(row["value"]["labels"]) for row in sdk.iter_export(project.id)}
    assert rows == {first.item_id: ["red", "round"], second.item_id: ["red"]}
    ann.close()
