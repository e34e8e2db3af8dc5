"""Kept project stats: exact while nothing changed, recounted after every kind of change,
never shared across viewer scopes, and served stale only within the staleness bound.

Each view is compared with a recount from scratch (the kept counts forgotten first), on
every backend; a fake clock stands in for time (no sleeps).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from hitloop.api.context import AppContext
from hitloop.db.engine import Database
from hitloop.db.tables import Annotation
from hitloop.formats import open_reader
from hitloop.schemas import (
    AnnotationIn,
    GoldMark,
    ItemIn,
    ProjectCreate,
    ProjectStats,
    ReviewDecision,
    TeamSettingsUpdate,
)
from hitloop.services import (
    annotations,
    auth,
    gold,
    items,
    members,
    policy,
    project_stats,
    projects,
    queue,
    review,
    team,
)
from hitloop.services.items import ItemLimits
from hitloop.services.project_stats import Staleness
from hitloop.types import Role
from tests.sql_log import statements
from tests.web.conftest import log_in


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    ctx: AppContext
    pid: int
    owner: auth.CurrentUser
    ann: auth.CurrentUser
    bob: auth.CurrentUser
    item_ids: list[int]
    clock: Clock


def _user(db: Database, name: str) -> auth.CurrentUser:
    made = auth.create_user(db, name, f"{name}-password")
    return auth.CurrentUser(id=made.id, username=name, is_admin=False)


def _answer(db: Database, user: int, item: int, label: str | None) -> int:
    value = None if label is None else {"label": label}
    body = AnnotationIn(value=value, skip=label is None, client_key=uuid.uuid4().hex)
    return annotations.submit(db, user, item, body).id


@pytest.fixture
def setup(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    db = ctx.db
    clock = Clock()
    monkeypatch.setattr(project_stats._CACHE, "clock", clock)
    # Exact unless a test says otherwise: these projects are far below the default min_rows.
    monkeypatch.setattr(project_stats, "STALENESS", Staleness())
    owner, ann, bob = _user(db, "owner"), _user(db, "ann"), _user(db, "bob")
    pid = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a", "b", "c"])).id
    members.add_member(db, None, pid, "ann", Role.ANNOTATOR)
    members.add_member(db, None, pid, "bob", Role.ANNOTATOR)
    ids = items.add_items(db, pid, None, [ItemIn(text=f"t{i}") for i in range(8)], ItemLimits())
    _answer(db, ann.id, ids[0], "a")
    _answer(db, bob.id, ids[1], "b")
    _answer(db, ann.id, ids[2], None)
    yield Setup(ctx, pid, owner, ann, bob, ids, clock)
    project_stats._CACHE.clear()


def _scope(db: Database, user: auth.CurrentUser, pid: int) -> dict[str, Any]:
    """What the project page passes for ``user`` (policy.project_access, as the routes do)."""
    access = policy.project_access(db, user, pid, policy.Action.READ_PROJECT)
    return {"sees_gold": access.can(policy.Action.MANAGE_GOLD), "answers_of": policy.answers_of(access)}


def _view(st: Setup, user: auth.CurrentUser) -> ProjectStats:
    stats = projects.get_project(st.ctx.db, st.pid, with_stats=True, **_scope(st.ctx.db, user, st.pid)).stats
    assert stats is not None
    return stats


def _fresh(st: Setup, user: auth.CurrentUser) -> ProjectStats:
    """The same view counted from scratch (nothing kept), without keeping it."""
    saved = {db: dict(kept) for db, kept in project_stats._CACHE._kept.items()}
    project_stats._CACHE.clear()
    try:
        return _view(st, user)
    finally:
        project_stats._CACHE.clear()
        project_stats._CACHE._kept.update(saved)


@contextmanager
def _counting(db: Database) -> Iterator[list[str]]:
    """The count statements run meanwhile (a kept result runs none)."""
    counted: list[str] = []
    with statements(db) as seen:
        yield counted
    counted.extend(q for q in seen if "count(" in q.lower())


def test_a_repeated_view_is_the_kept_one_and_exact(setup: Setup) -> None:
    st = setup
    first = _view(st, st.owner)
    assert (first.total, first.labeled, first.annotations, first.skipped) == (8, 2, 2, 1)
    assert first.as_of is None
    st.clock.now += 1  # nothing changed: the kept counts, not counted again
    with _counting(st.ctx.db) as counted:
        again = _view(st, st.owner)
    assert counted == [] and again == first == _fresh(st, st.owner)
    st.clock.now += project_stats._CACHE.settle_s  # counted once more when the state held that long ...
    with _counting(st.ctx.db) as counted:
        assert _view(st, st.owner) == first
    assert counted
    st.clock.now += 3600  # ... and then kept for good while nothing changes
    with _counting(st.ctx.db) as counted:
        assert _view(st, st.owner) == first
    assert counted == []


def test_an_answer_committed_out_of_id_order_is_counted_once_the_state_settles(setup: Setup) -> None:
    """On PostgreSQL an answer may commit after a count with an id below the newest one."""
    st = setup
    db = st.ctx.db

    def add_answer(answer_id: int, item: int) -> None:
        row = {"id": answer_id, "item_id": item, "project_id": st.pid, "user_id": st.bob.id}
        row.update(value={"label": "c"}, label="c", skipped=False, client_key=uuid.uuid4().hex)
        with db.write() as s:
            s.execute(insert(Annotation).values(created_at=st.clock.now, **row))

    add_answer(10_000, st.item_ids[6])
    counted = _view(st, st.owner)
    add_answer(5_000, st.item_ids[7])  # the newest answer id, the state, stays 10,000
    st.clock.now += 1
    assert _view(st, st.owner) == counted  # (the one-short window)
    st.clock.now += project_stats._CACHE.settle_s
    settled = _view(st, st.owner)
    assert settled.annotations == counted.annotations + 1 and settled == _fresh(st, st.owner)


def _reject_first(st: Setup) -> None:
    db = st.ctx.db
    with db.read() as s:
        first = s.scalar(select(Annotation.id).where(Annotation.project_id == st.pid).order_by(Annotation.id))
    assert first is not None
    review.review_annotation(db, st.owner.id, first, ReviewDecision(action="reject"))


def _fix_first(st: Setup) -> None:
    db = st.ctx.db
    with db.read() as s:
        first = s.scalar(select(Annotation.id).where(Annotation.project_id == st.pid).order_by(Annotation.id))
    assert first is not None
    review.review_annotation(db, st.owner.id, first, ReviewDecision(action="fix", value={"label": "c"}))


def _import(st: Setup, tmp_path: Path) -> None:
    path = tmp_path / "more.jsonl"
    path.write_text("".join(json.dumps({"id": f"x{i}", "text": f"x{i}"}) + "\n" for i in range(3)))
    items.import_records(
        st.ctx.db,
        st.ctx.media,
        st.pid,
        None,
        open_reader(path, id_field="id"),
        source=path.name,
        limits=ItemLimits(),
    )


CHANGES: dict[str, Callable[[Setup, Path], None]] = {
    "answer": lambda st, _: _answer(st.ctx.db, st.bob.id, st.item_ids[3], "c"),
    "skip": lambda st, _: _answer(st.ctx.db, st.bob.id, st.item_ids[3], None),
    "edit": lambda st, _: _answer(st.ctx.db, st.ann.id, st.item_ids[0], "c"),
    "review-reject": lambda st, _: _reject_first(st),
    "review-fix": lambda st, _: _fix_first(st),
    "item-add": lambda st, _: (
        items.add_items(st.ctx.db, st.pid, None, [ItemIn(text="new")], ItemLimits()) and None
    ),
    "import": _import,
    "gold-mark": lambda st, _: (
        gold.mark_gold(st.ctx.db, None, st.pid, [GoldMark(item_id=st.item_ids[5], value={"label": "a"})])
        and None
    ),
    "overlap": lambda st, _: (
        team.update_team_settings(st.ctx.db, None, st.pid, TeamSettingsUpdate(overlap=2)) and None
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES), ids=sorted(CHANGES))
def test_each_kind_of_change_is_counted_at_the_next_view(setup: Setup, change: str, tmp_path: Path) -> None:
    st = setup
    before = {who.username: _view(st, who) for who in (st.owner, st.ann)}
    CHANGES[change](st, tmp_path)
    for who in (st.owner, st.ann):
        after = _view(st, who)
        assert after == _fresh(st, who), (change, who.username)
        assert after.as_of is None
    # The change shows to the owner (everyone's answers, gold apart): the kept counts were not served.
    assert _view(st, st.owner) != before["owner"], change


def test_gold_unmark_is_counted_at_the_next_view(setup: Setup) -> None:
    st = setup
    gold.mark_gold(st.ctx.db, None, st.pid, [GoldMark(item_id=st.item_ids[5], value={"label": "a"})])
    marked = _view(st, st.owner)
    gold.unmark_gold(st.ctx.db, None, st.pid, [st.item_ids[5]])
    unmarked = _view(st, st.owner)
    assert unmarked.total == marked.total + 1 and unmarked == _fresh(st, st.owner)


def test_a_visibility_change_gives_the_annotator_the_other_scope(setup: Setup) -> None:
    st = setup
    own = _view(st, st.ann)
    assert (own.annotations, own.skipped, own.distribution) == (1, 1, {"a": 1, "b": 0, "c": 0})
    team.update_team_settings(st.ctx.db, None, st.pid, TeamSettingsUpdate(annotator_visibility="all"))
    everyone = _view(st, st.ann)
    assert (everyone.annotations, everyone.distribution) == (2, {"a": 1, "b": 1, "c": 0})
    assert everyone == _fresh(st, st.ann)
    team.update_team_settings(st.ctx.db, None, st.pid, TeamSettingsUpdate(annotator_visibility="own"))
    assert _view(st, st.ann) == own


def test_scopes_never_mix(setup: Setup) -> None:
    """Owner, two annotators and a gold-blind view of the same project, views interleaved."""
    st = setup
    gold.mark_gold(st.ctx.db, None, st.pid, [GoldMark(item_id=st.item_ids[6], value={"label": "a"})])
    viewers = (st.owner, st.ann, st.bob)
    expected = {who.username: _fresh(st, who) for who in viewers}
    assert expected["ann"] != expected["bob"] != expected["owner"] != expected["ann"]
    for _ in range(2):
        for who in (*viewers, *reversed(viewers)):
            assert _view(st, who) == expected[who.username], who.username
    # The owner's counts with gold items counted as work, and nobody's answers: scopes of their own.
    db = st.ctx.db
    blind = projects.get_project(db, st.pid, with_stats=True, sees_gold=False).stats
    assert blind is not None and blind.total == expected["owner"].total + 1
    nobody = projects.list_projects(db, only={st.pid}, answers_seen_in=set(), viewer_id=None)[0].stats
    assert nobody is not None and (nobody.annotations, nobody.skipped) == (0, 0)
    assert _view(st, st.owner) == expected["owner"]


def test_the_list_counts_only_the_projects_that_changed(setup: Setup) -> None:
    st = setup
    db = st.ctx.db
    other = projects.create_project(db, st.owner.id, ProjectCreate(name="q", labels=["a"])).id
    [item] = items.add_items(db, other, None, [ItemIn(text="q")], ItemLimits())
    listed = projects.list_projects(db)
    kept_other = project_stats._CACHE.find(db, (other, True, "all"))
    assert kept_other is not None
    _answer(db, st.bob.id, st.item_ids[4], "a")
    st.clock.now += 1
    with _counting(db) as counted:
        relisted = projects.list_projects(db)
    assert project_stats._CACHE.find(db, (other, True, "all")) is kept_other  # not counted again
    assert counted  # the changed project was
    assert relisted[1] == listed[1] and relisted[0] != listed[0]
    assert relisted[0].stats == _fresh(st, st.owner)
    _answer(db, st.owner.id, item, "a")
    assert projects.list_projects(db)[1].stats == projects.get_project(db, other, with_stats=True).stats


def test_big_counts_are_served_stale_only_within_the_bound(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = setup
    # Every count "big", the bound 2 s whatever the counting took (factor 0).
    monkeypatch.setattr(project_stats, "STALENESS", Staleness(min_rows=0, floor_s=2.0, factor=0.0))
    taken = st.clock.now
    first = _view(st, st.owner)
    _answer(st.ctx.db, st.bob.id, st.item_ids[3], "c")
    st.clock.now = taken + 1.5
    with _counting(st.ctx.db) as counted:
        stale = _view(st, st.owner)
    assert counted == []
    assert stale.model_dump(exclude={"as_of"}) == first.model_dump(exclude={"as_of"})
    assert stale.as_of == datetime.fromtimestamp(taken, UTC)
    # Another scope has no kept counts of its own: counted now, never the owner's.
    assert _view(st, st.ann) == _fresh(st, st.ann) and _view(st, st.ann).as_of is None
    st.clock.now = taken + 2.0  # as old as the bound: counted again, exact
    fresh = _view(st, st.owner)
    assert fresh.as_of is None and fresh.annotations == first.annotations + 1
    assert fresh == _fresh(st, st.owner)


@pytest.mark.parametrize(
    ("cost", "rows", "expected"),
    [
        (0.5, 49_999, 0.0),  # small: always exact
        (0.01, 50_000, 1.0),  # the floor
        (0.5, 1_000_000, 5.0),  # 10x the counting time
        (2.0, 2_000_000, 20.0),
        (9.0, 5_000_000, 30.0),  # the cap
    ],
    ids=["small", "floor", "10x", "10x-big", "cap"],
)
def test_the_default_staleness_bound(cost: float, rows: int, expected: float) -> None:
    assert Staleness().max_age(cost, rows) == pytest.approx(expected)


def test_stale_counts_say_so_over_http_and_on_the_page(
    setup: Setup, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = setup
    monkeypatch.setattr(project_stats, "STALENESS", Staleness(min_rows=0, floor_s=30.0, factor=0.0))
    client = TestClient(app)
    log_in(client, "owner", "owner-password")
    url = f"/api/projects/{st.pid}"
    taken = st.clock.now
    current = client.get(url).json()["stats"]
    assert current["as_of"] is None and 'data-stat="as_of"' not in client.get(f"/projects/{st.pid}").text
    _answer(st.ctx.db, st.bob.id, st.item_ids[3], "c")
    st.clock.now = taken + 10
    stale = client.get(url).json()["stats"]
    assert datetime.fromisoformat(stale["as_of"]) == datetime.fromtimestamp(taken, UTC)
    assert stale["annotations"] == current["annotations"]
    html = client.get(f"/projects/{st.pid}").text
    stamp = datetime.fromtimestamp(taken, UTC).strftime("%H:%M:%S")
    assert 'data-stat="as_of"' in html and "Counted at <time" in html and f"{stamp} UTC" in html
    st.clock.now = taken + 30
    again = client.get(url).json()["stats"]
    assert again["as_of"] is None and again["annotations"] == current["annotations"] + 1


def test_concurrent_cold_views_count_once(setup: Setup) -> None:
    st = setup
    start = threading.Barrier(6)
    got: list[ProjectStats] = []

    def view() -> None:
        start.wait()
        got.append(_view(st, st.owner))

    with _counting(st.ctx.db) as counted:
        threads = [threading.Thread(target=view) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    items_counts = [c for c in counted if "FROM items" in c]
    assert len(items_counts) == 1, counted
    assert len(got) == 6 and all(g == got[0] for g in got) and got[0] == _fresh(st, st.owner)


def test_leases_change_no_count_so_the_kept_counts_stay_exact(setup: Setup) -> None:
    """Leasing, releasing and sweeping items move no state: they change no count either."""
    st = setup
    db = st.ctx.db
    before = {who.username: _view(st, who) for who in (st.owner, st.ann)}
    got = queue.next_items(db, st.pid, st.bob.id, count=3, lease_seconds=1)
    assert got
    assert queue.sweep_expired_leases(db, st.pid, now=time.time() + 3600) > 0
    queue.next_items(db, st.pid, st.ann.id, count=2)
    queue.release_items(db, st.pid, st.ann.id, [i.id for i in got])
    for who in (st.owner, st.ann):
        assert _view(st, who) == before[who.username] == _fresh(st, who), who.username
