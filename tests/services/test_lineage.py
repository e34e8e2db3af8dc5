"""An answer's lineage names only a model of the item's own project, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, ModelVersion
from hitloop.errors import InputError
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects
from hitloop.services.items import ItemLimits


def _version(db: Database, project_id: int) -> int:
    with db.write() as s:
        row = ModelVersion(
            project_id=project_id, learner="logreg", params={}, n_train=3, created_at=time.time()
        )
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def two(db: Database) -> dict[str, Any]:
    """Two projects with one model version each, and an item in the first."""
    user = auth.create_user(db, "ann", "ann-password").id
    mine = projects.create_project(db, user, ProjectCreate(name="p", labels=["cat", "dog"])).id
    other = projects.create_project(db, user, ProjectCreate(name="q", labels=["cat", "dog"])).id
    [item] = items.add_items(db, mine, user, [ItemIn(text="t")], ItemLimits())
    return {"user": user, "item": item, "mine": _version(db, mine), "other": _version(db, other)}


def _body(version: int | None, key: str = "lineage-key-1", skip: bool = False) -> AnnotationIn:
    shown = {"value": {"label": "cat"}, "model_version_id": version, "preselected": True}
    value = None if skip else {"label": "cat"}
    return AnnotationIn(value=value, skip=skip, client_key=key, shown=shown)


def _stored(db: Database) -> tuple[int, int]:
    with db.read() as s:
        n = s.scalar(select(func.count()).select_from(Annotation)) or 0
        answers = s.scalar(select(func.sum(Item.n_answers))) or 0
        return int(n), int(answers)


def test_a_model_version_of_the_items_project_is_stored_as_sent(db: Database, two: dict[str, Any]) -> None:
    annotations.submit(db, two["user"], two["item"], _body(two["mine"]))
    with db.read() as s:
        shown = s.scalar(select(Annotation.shown))
    assert shown == {"value": {"label": "cat"}, "model_version_id": two["mine"], "preselected": True}


def test_lineage_without_a_model_version_needs_no_check(db: Database, two: dict[str, Any]) -> None:
    annotations.submit(db, two["user"], two["item"], _body(None))
    assert _stored(db) == (1, 1)


@pytest.mark.parametrize("which", ["other", "missing"], ids=["another-projects-version", "no-such-version"])
@pytest.mark.parametrize("skip", [False, True], ids=["answer", "skip"])
def test_a_model_version_of_another_project_is_refused_and_nothing_stored(
    db: Database, two: dict[str, Any], which: str, skip: bool
) -> None:
    version = two["other"] if which == "other" else two["other"] + 1000
    with pytest.raises(InputError, match=f"model version {version} is not a model of project") as err:
        annotations.submit(db, two["user"], two["item"], _body(version, skip=skip))
    assert err.value.field == "shown.model_version_id"
    assert _stored(db) == (0, 0)
    # The same client key is still free: the refused submit left no trace.
    annotations.submit(db, two["user"], two["item"], _body(two["mine"]))
    assert _stored(db) == (1, 1)


def test_over_http_a_foreign_model_version_is_422_naming_the_field(ctx: Any, api: Any) -> None:
    p = api.post("/api/projects", json={"name": "p", "labels": ["cat", "dog"]}).json()["id"]
    q = api.post("/api/projects", json={"name": "q", "labels": ["cat", "dog"]}).json()["id"]
    foreign = _version(ctx.db, q)
    api.post(f"/api/projects/{p}/items", json={"items": [{"text": "t"}]})
    [item] = api.post(f"/api/projects/{p}/next", json={"count": 1}).json()["items"]
    body = _body(foreign).model_dump()
    r = api.post(f"/api/items/{item['id']}/annotations", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "shown.model_version_id" and str(foreign) in error["message"]
    assert _stored(ctx.db) == (0, 0)
    body["shown"]["model_version_id"] = _version(ctx.db, p)
    assert api.post(f"/api/items/{item['id']}/annotations", json=body).status_code == 201
