"""Project stats: the list's stats equal each project's, come from a fixed number of queries,
and count labels in the database (SQLite json_each, PostgreSQL jsonb_array_elements).

A mixed set of projects (classify with gold items and overlap 2, multilabel with edits,
skips and empty answers, boxes, a project with ``annotator_visibility`` all) and people in
different roles: for each person, ``list_projects`` with the policy's sets gives what
``get_project`` gives project by project, and both match a recount in Python of the rows.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Project
from hitloop.schemas import AnnotationIn, GoldMark, ItemIn, ProjectCreate, ProjectOut, TeamSettingsUpdate
from hitloop.services import annotations, auth, gold, items, members, policy, projects, team
from hitloop.services.items import ItemLimits
from hitloop.types import Modality, Role, TaskType
from tests.sql_log import statements

PEOPLE = ("owner", "mgr", "ann", "bob", "rev", "root")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(out, "PNG")
    return out.getvalue()


def _answer(db: Database, user: int, item: int, value: dict[str, Any] | None = None) -> None:
    body = AnnotationIn(value=value, skip=value is None, client_key=uuid.uuid4().hex)
    annotations.submit(db, user, item, body)


@dataclass
class World:
    ctx: AppContext
    users: dict[str, auth.CurrentUser]
    project_ids: list[int]


def _user(db: Database, name: str) -> auth.CurrentUser:
    made = auth.create_user(db, name, f"{name}-password", is_admin=name == "root")
    return auth.CurrentUser(id=made.id, username=name, is_admin=name == "root")


def _project(db: Database, owner: int, spec: ProjectCreate, roles: dict[str, Role]) -> int:
    pid = projects.create_project(db, owner, spec).id
    for name, role in roles.items():
        members.add_member(db, None, pid, name, role)
    return pid


@pytest.fixture
def world(ctx: AppContext) -> World:
    db, limits = ctx.db, ItemLimits()
    users = {name: _user(db, name) for name in PEOPLE}
    uid = {name: u.id for name, u in users.items()}
    owner = uid["owner"]
    annotators = {"ann": Role.ANNOTATOR, "bob": Role.ANNOTATOR}

    # Classify, overlap 2, gold items (one answered twice, one once, one never): annotators and
    # reviewers count gold items as regular ones, managers and owners leave them out.
    spec = ProjectCreate(name="classify", labels=["a", "b", "c"])
    c = _project(db, owner, spec, {**annotators, "mgr": Role.MANAGER, "rev": Role.REVIEWER})
    team.update_team_settings(db, None, c, TeamSettingsUpdate(overlap=2))
    ci = items.add_items(db, c, None, [ItemIn(text=f"c{i}") for i in range(7)], limits)
    for who, item, label in [("ann", 0, "a"), ("bob", 0, "a"), ("ann", 1, "b"), ("bob", 1, "c")]:
        _answer(db, uid[who], ci[item], {"label": label})
    for who, item, label in [("ann", 2, "b"), ("bob", 3, "a"), ("ann", 4, "c"), ("bob", 4, "c")]:
        _answer(db, uid[who], ci[item], {"label": label})
    _answer(db, uid["ann"], ci[5])  # a skip
    _answer(db, uid["ann"], ci[2], {"label": "a"})  # an edit: the first answer is superseded
    marks = [GoldMark(item_id=ci[i], value={"label": "a"}) for i in (4, 3, 6)]
    assert gold.mark_gold(db, None, c, marks) == 3

    # Multilabel with annotator_visibility all: edits, skips, "none of these".
    spec = ProjectCreate(name="multi", task=TaskType.MULTILABEL, labels=["x", "y", "z"])
    m = _project(db, owner, spec, {**annotators, "rev": Role.VIEWER})
    team.update_team_settings(db, None, m, TeamSettingsUpdate(annotator_visibility="all"))
    mi = items.add_items(db, m, None, [ItemIn(text=f"m{i}") for i in range(5)], limits)
    _answer(db, uid["ann"], mi[0], {"labels": ["x", "z"]})
    _answer(db, uid["bob"], mi[1], {"labels": ["x", "y", "z"]})
    _answer(db, uid["ann"], mi[2], {"labels": []})
    _answer(db, uid["bob"], mi[3])
    _answer(db, uid["bob"], mi[1], {"labels": ["y"]})

    # Multilabel, visibility own; ann is its manager, bob an annotator.
    spec = ProjectCreate(name="multi-own", task=TaskType.MULTILABEL, labels=["x", "y"])
    m2 = _project(db, owner, spec, {"ann": Role.MANAGER, "bob": Role.ANNOTATOR, "mgr": Role.ANNOTATOR})
    m2i = items.add_items(db, m2, None, [ItemIn(text=f"n{i}") for i in range(3)], limits)
    _answer(db, uid["bob"], m2i[0], {"labels": ["y"]})
    _answer(db, uid["mgr"], m2i[1], {"labels": ["x", "y"]})
    _answer(db, uid["ann"], m2i[2], {"labels": ["x"]})

    # Boxes: labels counted per box.
    spec = ProjectCreate(name="boxes", task=TaskType.BOXES, modality=Modality.IMAGE, labels=["face", "hand"])
    b = _project(db, owner, spec, annotators)
    bi = [
        items.add_image(db, ctx.media, b, None, _png(), filename=f"{i}.png", limits=limits) for i in range(3)
    ]
    box = {"x": 1, "y": 1, "w": 10, "h": 10}
    _answer(db, uid["ann"], bi[0], {"boxes": [{**box, "label": "face"}, {**box, "label": "face"}]})
    _answer(db, uid["bob"], bi[1], {"boxes": [{**box, "label": "hand"}]})
    _answer(db, uid["bob"], bi[2], {"boxes": []})

    # A project bob is not in, and an empty one.
    spec = ProjectCreate(name="not-bobs", labels=["a", "b"])
    o = _project(db, owner, spec, {"ann": Role.ANNOTATOR})
    [oi] = items.add_items(db, o, None, [ItemIn(text="o")], limits)
    _answer(db, uid["ann"], oi, {"label": "b"})
    e = _project(db, owner, ProjectCreate(name="empty", labels=["a"]), {})
    return World(ctx, users, [c, m, m2, b, o, e])


def _listed(db: Database, user: auth.CurrentUser) -> list[ProjectOut]:
    """What GET /api/projects gives ``user`` (the route's policy sets)."""
    return projects.list_projects(
        db,
        only=policy.visible_project_ids(db, user),
        gold_seen_in=policy.projects_allowing(db, user, policy.Action.MANAGE_GOLD),
        answers_seen_in=policy.projects_allowing(db, user, policy.Action.READ_ANNOTATIONS),
        viewer_id=user.id,
    )


def _recount(db: Database, pid: int, sees_gold: bool, answers_of: int | None) -> dict[str, Any]:
    """The stats recounted from the rows in Python: one project's items and current answers."""
    with db.read() as s:
        project = s.get(Project, pid)
        assert project is not None
        states = list(s.execute(select(Item.state, Item.n_answers).where(Item.project_id == pid)))
        rows = list(
            s.execute(
                select(Annotation.user_id, Annotation.skipped, Annotation.value).where(
                    Annotation.project_id == pid, Annotation.superseded_by.is_(None)
                )
            )
        )
    work = [(st, n) for st, n in states if st != "staged" and (st != "gold" or not sees_gold)]
    done = [1 for st, n in work if st == "done" or (st == "gold" and n >= project.overlap)]
    seen = [r for r in rows if answers_of is None or r.user_id == answers_of]
    distribution = Counter({name: 0 for name in project.labels})
    for r in seen:
        if not r.skipped:
            value = r.value or {}
            chosen = [value["label"]] if "label" in value else value.get("labels", [])
            distribution.update(chosen + [b["label"] for b in value.get("boxes", [])])
    return {
        "total": len(work),
        "labeled": len(done),
        "skipped": sum(1 for r in seen if r.skipped),
        "annotations": sum(1 for r in seen if not r.skipped),
        "distribution": dict(distribution),
    }


@pytest.mark.parametrize("name", PEOPLE)
def test_the_list_gives_each_person_what_each_project_gives_them(world: World, name: str) -> None:
    db, user = world.ctx.db, world.users[name]
    listed = _listed(db, user)
    assert listed, name
    for p in listed:
        access = policy.project_access(db, user, p.id, policy.Action.READ_PROJECT)
        sees_gold = access.can(policy.Action.MANAGE_GOLD)
        answers_of = policy.answers_of(access)
        one = projects.get_project(db, p.id, with_stats=True, sees_gold=sees_gold, answers_of=answers_of)
        assert p == one, (name, p.name)
        assert p.stats is not None
        expected = {**_recount(db, p.id, sees_gold, answers_of), "as_of": None}  # exact: nothing changed
        assert p.stats.model_dump() == expected, (name, p.name)


def test_the_world_has_what_the_comparison_needs(world: World) -> None:
    """Guards the test above: the cases it compares are really there."""
    db = world.ctx.db
    everyone = {p.name: p.stats for p in projects.list_projects(db)}
    assert everyone["classify"] is not None and everyone["classify"].skipped == 1
    ann = {p.name: p.stats for p in _listed(db, world.users["ann"])}
    mgr = {p.name: p.stats for p in _listed(db, world.users["mgr"])}
    assert ann["classify"] is not None and mgr["classify"] is not None
    assert ann["classify"].total == mgr["classify"].total + 3  # gold counted as work by an annotator
    assert ann["classify"].labeled == mgr["classify"].labeled + 1  # gold item 4 has its 2 answers
    assert ann["classify"].annotations < everyone["classify"].annotations  # own answers only
    assert ann["multi"] == everyone["multi"]  # visibility all
    assert everyone["boxes"] is not None and everyone["boxes"].distribution == {"face": 2, "hand": 1}
    assert everyone["multi"] is not None and everyone["multi"].distribution == {"x": 1, "y": 1, "z": 1}
    bob = {p.name: p.stats for p in _listed(db, world.users["bob"])}
    assert "not-bobs" not in bob and bob["multi-own"] is not None
    assert bob["multi-own"].distribution == {"x": 0, "y": 1} and bob["multi-own"].annotations == 1


def _add_projects(ctx: AppContext, owner: int, names: list[str], start: int) -> None:
    tasks = [TaskType.CLASSIFY, TaskType.MULTILABEL, TaskType.BOXES]
    for i, task in enumerate(tasks[(start + k) % 3] for k in range(len(names))):
        modality = Modality.IMAGE if task is TaskType.BOXES else Modality.TEXT
        spec = ProjectCreate(name=names[i], task=task, modality=modality, labels=["a", "b"])
        pid = _project(ctx.db, owner, spec, {"ann": Role.ANNOTATOR})
        if task is TaskType.BOXES:
            item = items.add_image(
                ctx.db, ctx.media, pid, None, _png(), filename="i.png", limits=ItemLimits()
            )
            value: dict[str, Any] = {"boxes": [{"x": 1, "y": 1, "w": 5, "h": 5, "label": "a"}]}
        else:
            [item] = items.add_items(ctx.db, pid, None, [ItemIn(text="t")], ItemLimits())
            value = {"label": "a"} if task is TaskType.CLASSIFY else {"labels": ["a", "b"]}
        _answer(ctx.db, owner, item, value)


def test_listing_takes_the_same_number_of_statements_for_1_or_20_projects(ctx: AppContext) -> None:
    db = ctx.db
    owner, ann = _user(db, "owner"), _user(db, "ann")
    counts: dict[int, tuple[int, int]] = {}
    for n in (1, 20):
        have = len(projects.list_projects(db, with_stats=False))
        _add_projects(ctx, owner.id, [f"p{i}" for i in range(have, n)], have)
        only = policy.visible_project_ids(db, ann)
        with statements(db) as everyone:
            listed = projects.list_projects(db)
        with statements(db) as as_ann:
            mine = projects.list_projects(
                db, only=only, gold_seen_in=set(), answers_seen_in=set(), viewer_id=ann.id
            )
        assert len(listed) == len(mine) == n
        assert all(p.stats is not None and p.stats.annotations == 1 for p in listed)
        assert all(p.stats is not None and p.stats.annotations == 0 for p in mine)  # owner answered
        counts[n] = (len(everyone), len(as_ann))
        with statements(db) as again:  # nothing changed: the kept counts, after the states
            assert projects.list_projects(db) == listed
        assert len(again) <= 3 and "count(" not in " ".join(again).lower(), again
    # The projects, their states, then items, answers with classify labels, JSON labels (only
    # with multilabel or boxes projects, so not for the first one alone), and SQLite's BEGIN.
    assert max(max(c) for c in counts.values()) <= 6, counts


def test_someone_in_no_project_lists_none_in_one_statement(world: World) -> None:
    db = world.ctx.db
    loner = _user(db, "loner")
    only = policy.visible_project_ids(db, loner)
    assert only == set()
    with statements(db) as seen:
        assert projects.list_projects(db, only=only, gold_seen_in=set(), answers_seen_in=set()) == []
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1
