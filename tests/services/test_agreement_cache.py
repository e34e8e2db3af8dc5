"""Agreement is computed once per change of the answers, not once per page view; the MASI α
of projects with very many distinct label sets is computed on a deterministic sample of items.
On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import select, update

from hitloop.db.tables import Annotation, Project
from hitloop.ml.agreement import krippendorff_alpha_masi
from hitloop.schemas import ItemIn, ProjectCreate, ReviewDecision
from hitloop.services import agreement, auth, items, projects, review
from tests.agreement_setup import count_computations, shared_project, submit


def _answer_id(ctx: Any, user_id: int, item_id: int) -> int:
    with ctx.db.read() as s:
        found = s.scalar(
            select(Annotation.id).where(
                Annotation.user_id == user_id,
                Annotation.item_id == item_id,
                Annotation.superseded_by.is_(None),
            )
        )
    assert found is not None
    return int(found)


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_computations(monkeypatch)


def test_agreement_is_computed_once_per_change_not_per_view(ctx: Any, computed: list[int]) -> None:
    pid, ids = shared_project(ctx, ["a", "b"], 4, task="classify", overlap=2)
    ann, bob, rita = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bob", "rita"))
    for item, (x, y) in zip(ids[:3], [("a", "a"), ("b", "b"), ("a", "b")], strict=True):
        submit(ctx, ann, item, {"label": x})
        submit(ctx, bob, item, {"label": y})

    first = agreement.project_agreement(ctx.db, pid)
    for _ in range(20):  # page views and API calls
        assert agreement.project_agreement(ctx.db, pid) == first
    assert computed == [pid]
    assert (first.items, first.answers) == (3, 6)
    first.pairs[0].kappa = 0.99  # a caller changing its copy changes nothing kept
    first.annotators.append("mallory")
    assert agreement.project_agreement(ctx.db, pid).annotators == ["ann", "bob"]
    assert agreement.project_agreement(ctx.db, pid).pairs[0].kappa == pytest.approx(0.4, abs=1e-4)
    assert len(computed) == 1

    # A new answer: computed again, once.
    submit(ctx, ann, ids[3], {"label": "b"})
    submit(ctx, bob, ids[3], {"label": "b"})
    second = agreement.project_agreement(ctx.db, pid)
    assert agreement.project_agreement(ctx.db, pid) == second
    assert len(computed) == 2 and (second.items, second.answers) == (4, 8)
    kappa_before_edit = second.pairs[0].kappa
    assert kappa_before_edit == pytest.approx(0.5, abs=1e-4)

    # An edit: bob changes his answer to item 3, which supersedes the old row.
    submit(ctx, bob, ids[2], {"label": "a"})
    third = agreement.project_agreement(ctx.db, pid)
    assert agreement.project_agreement(ctx.db, pid) == third
    assert len(computed) == 3
    assert third.answers == 8 and third.pairs[0].kappa == 1.0  # they now agree everywhere

    # A review fix: rita replaces ann's answer to item 1; ann's row is superseded by rita's.
    review.review_annotation(
        ctx.db, rita, _answer_id(ctx, ann, ids[0]), ReviewDecision(action="fix", value={"label": "b"})
    )
    fourth = agreement.project_agreement(ctx.db, pid)
    assert agreement.project_agreement(ctx.db, pid) == fourth
    assert len(computed) == 4
    assert fourth.annotators == ["ann", "bob", "rita"] and fourth.answers == 8
    assert fourth.fleiss_kappa is not None and fourth.fleiss_kappa < 1.0  # rita's b vs bob's a

    # A reject adds no answer row (it only marks one superseded), yet the state moves.
    review.review_annotation(ctx.db, rita, _answer_id(ctx, bob, ids[0]), ReviewDecision(action="reject"))
    fifth = agreement.project_agreement(ctx.db, pid)
    assert len(computed) == 5 and fifth.answers == 7 and fifth.items == 3
    assert fifth.fleiss_kappa == 1.0

    # An accept changes no answer but is audited: one more computation, same numbers.
    review.review_annotation(ctx.db, rita, _answer_id(ctx, ann, ids[1]), ReviewDecision(action="accept"))
    assert agreement.project_agreement(ctx.db, pid) == fifth
    assert len(computed) == 6


def test_projects_are_kept_apart(ctx: Any, computed: list[int]) -> None:
    pid, ids = shared_project(ctx, ["a", "b"], 2, task="classify", overlap=2)
    ann, bob = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bob"))
    other = projects.create_project(ctx.db, ann, ProjectCreate(name="other", labels=["x", "y"])).id
    for item in ids:
        submit(ctx, ann, item, {"label": "a"})
        submit(ctx, bob, item, {"label": "a"})
    mine, theirs = agreement.project_agreement(ctx.db, pid), agreement.project_agreement(ctx.db, other)
    assert (mine.items, theirs.items) == (2, 0)
    for _ in range(5):
        assert agreement.project_agreement(ctx.db, pid) == mine
        assert agreement.project_agreement(ctx.db, other) == theirs
    assert sorted(computed) == sorted([pid, other])


def test_api_views_share_one_computation(ctx: Any, api: Any, computed: list[int]) -> None:
    pid = api.post("/api/projects", json={"name": "p", "labels": ["cat", "dog"]}).json()["id"]
    with ctx.db.write() as s:
        s.execute(update(Project).where(Project.id == pid).values(overlap=2, overlap_max=2))
    ids = items.add_items(ctx.db, pid, None, [ItemIn(text="t")], ctx.limits)
    ann, bob = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bob"))
    submit(ctx, ann, ids[0], {"label": "cat"})
    bodies = [api.get(f"/api/projects/{pid}/agreement") for _ in range(10)]
    assert {r.status_code for r in bodies} == {200}
    assert len(computed) == 1
    submit(ctx, bob, ids[0], {"label": "cat"})
    body = api.get(f"/api/projects/{pid}/agreement").json()
    assert body["answers"] == 2 and body["krippendorff_alpha_items"] is None
    assert len(computed) == 2


def _label_sets(n_labels: int, n_items: int, seed: int) -> list[list[list[str]]]:
    rng = np.random.default_rng(seed)
    labels = [f"l{j}" for j in range(n_labels)]
    return [
        [[labels[j] for j in np.flatnonzero(rng.random(n_labels) < 0.4)] for _ in range(2)]
        for _ in range(n_items)
    ]


def test_masi_alpha_is_sampled_past_the_cap_and_says_so(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    labels = [f"l{j}" for j in range(8)]
    pid, ids = shared_project(ctx, labels, 40, task="multilabel", overlap=2)
    ann, bob = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bob"))
    given = _label_sets(8, 40, seed=3)
    for item, (a, b) in zip(ids, given, strict=True):
        submit(ctx, ann, item, {"labels": a})
        submit(ctx, bob, item, {"labels": b})
    everything = agreement.project_agreement(ctx.db, pid)
    assert everything.krippendorff_alpha_items is None and everything.items == 40
    distinct = {frozenset(s) for pair in given for s in pair}
    assert len(distinct) > 20

    monkeypatch.setattr(agreement, "MASI_MAX_SETS", 20)
    agreement._CACHE.clear()
    sampled = agreement.project_agreement(ctx.db, pid)
    n = sampled.krippendorff_alpha_items
    assert n is not None and 2 <= n < 40
    # The κs and per-label figures still use every answer; only α is on the sample.
    assert sampled.items == 40 and sampled.answers == 80
    assert sampled.fleiss_kappa == everything.fleiss_kappa and sampled.pairs == everything.pairs
    assert sampled.per_label_alpha == everything.per_label_alpha

    # The sample is the first items in a fixed order of their ids whose label sets, all
    # together, are at most 20 distinct sets; α is MASI α on exactly those items.
    order = sorted(range(40), key=lambda i: ((ids[i] * 2654435761) % (1 << 32), ids[i]))
    taken: list[int] = []
    seen: set[frozenset[str]] = set()
    for i in order:
        more = seen | {frozenset(s) for s in given[i]}
        if len(more) > 20:
            break
        seen, taken = more, [*taken, i]
    assert n == len(taken) and len(seen) <= 20
    codes = {s: c for c, s in enumerate(sorted(seen, key=sorted))}
    table = np.array(
        [(k, w, codes[frozenset(given[i][w])]) for k, i in enumerate(taken) for w in range(2)], dtype=np.intp
    )
    membership = sp.csr_matrix(
        [[1.0 if name in s else 0.0 for name in labels] for s in sorted(seen, key=sorted)]
    )
    assert sampled.krippendorff_alpha == pytest.approx(krippendorff_alpha_masi(table, membership), abs=1e-4)

    agreement._CACHE.clear()  # computed afresh: the same sample, the same figures
    assert agreement.project_agreement(ctx.db, pid) == sampled
