"""Training in team projects: started (partial) items train, gold items are scored but never trained on."""

from __future__ import annotations

from sqlalchemy import select

from hitloop.db.tables import Annotation, Item, Suggestion
from hitloop.schemas import AnnotationIn, GoldMark, TeamSettingsUpdate
from hitloop.services import annotations, auth, gold, members, queue, retrain, team
from hitloop.types import Role
from tests.loop.conftest import Loop


def _answer_served(loop: Loop, user: int, n: int) -> None:
    for _ in range(n):
        (item,) = queue.next_items(loop.db, loop.project, user, count=1)
        body = AnnotationIn(value={"label": loop.truth[item.id]}, client_key=f"served-{user}-{item.id}")
        annotations.submit(loop.db, user, item.id, body)


def test_overlap_and_gold_projects_train_and_score_every_item(loop: Loop) -> None:
    gold_ids = loop.ids[:4]
    gold.mark_gold(
        loop.db, None, loop.project, [GoldMark(item_id=i, value={"label": loop.truth[i]}) for i in gold_ids]
    )
    team.update_team_settings(loop.db, None, loop.project, TeamSettingsUpdate(overlap=2, gold_rate=0.25))
    people = []
    for name in ("bob", "cy"):
        people.append(auth.create_user(loop.db, name, f"{name}-password").id)
        members.add_member(loop.db, None, loop.project, name, Role.ANNOTATOR)
    _answer_served(loop, people[0], 24)
    _answer_served(loop, people[1], 12)  # most of bob's items stay half answered (partial)

    with loop.db.read() as s:
        states = dict(s.execute(select(Item.id, Item.state)).tuples().all())
        rows = s.scalars(select(Annotation.item_id).where(Annotation.skipped.is_(False)))
        answered = {int(i) for i in rows}
    assert "partial" in states.values() and answered & set(gold_ids)  # the cases that used to fail

    job, _ = retrain.request_training(loop.db, loop.project, loop.user)
    (ran,) = [j for j in loop.run_jobs() if j.id == job.id]
    assert ran.state == "done", ran.error
    assert ran.result["n_train"] == len(answered - set(gold_ids))  # gold answers are not training data

    with loop.db.read() as s:
        suggested = set(s.scalars(select(Suggestion.item_id).where(Suggestion.model_version_id.is_not(None))))
    unlabeled = set(loop.ids) - (answered - set(gold_ids))
    assert unlabeled <= suggested  # gold items get a suggestion like any unlabeled item
