"""The next-item query is an index seek whose cost does not grow with the project."""

from __future__ import annotations

from sqlalchemy import insert

from hitloop.db.engine import Database
from hitloop.db.tables import Item
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, projects
from hitloop.services.queue import pick_query


def _explain(db: Database, project_id: int, user_id: int) -> str:
    query = pick_query(project_id, user_id, 1)
    with db.engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        rows = conn.exec_driver_sql(prefix + str(compiled)).all()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def test_next_item_uses_the_queue_index_without_sorting(db: Database) -> None:
    user = auth.create_user(db, "u", "u-password")
    project = projects.create_project(db, user.id, ProjectCreate(name="p", labels=["a"]))
    rows = [
        {
            "project_id": project.id,
            "text": f"t{i}",
            "meta": {},
            "priority": float(i % 7),
            "state": "open",
            "n_answers": 0,
            "source": "import",
            "created_at": 0.0,
        }
        for i in range(3000)
    ]
    with db.write() as s:
        s.execute(insert(Item), rows)
        if not db.is_sqlite:
            s.connection().exec_driver_sql("ANALYZE items")
    plan = _explain(db, project.id, user.id)
    assert "ix_items_queue" in plan, plan
    if db.is_sqlite:
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Sort" not in plan, plan
