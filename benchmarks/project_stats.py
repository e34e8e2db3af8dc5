"""Time of a project's stats (the project page, ``GET /api/projects/{id}``) as answers grow.

    python benchmarks/project_stats.py [--answers 200000] [--task multilabel|classify]
        [--rounds 5] [--database URL] [--profile] [--json FILE]

Fills one project (multilabel: 8 labels, 1-3 chosen per answer; classify: one of
8 labels, in the ``label`` column as submit writes it), one answer per item,
four annotators, by bulk inserts, then times ``projects.get_project`` with stats
for the owner (everyone's answers) and for one annotator (their own), and
``projects.list_projects``. Prints the median wall milliseconds of each:
``*_cold_ms`` computes the stats (kept results forgotten before each call),
``*_ms`` is a repeated view with nothing changed, ``*_after_answer_ms`` a view
right after one more answer landed (the project's state moved). ``--profile``
also times each statement of one cold owner view and records its plan
(EXPLAIN QUERY PLAN / EXPLAIN ANALYZE). Without ``--database``: a fresh SQLite
file; with a ``postgresql+psycopg://`` URL: a fresh schema there (ANALYZEd after
the fill, as autovacuum would), dropped afterwards.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# This folder holds select.py (the selection benchmark), which would shadow the
# standard library's select module: put the folder last on sys.path.
sys.path.append(sys.path.pop(0))

from _common import database_url, database_version, machine_info
from sqlalchemy import event, insert, text

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, members, projects
from hitloop.types import Role, TaskType

LABELS = [f"label{i}" for i in range(8)]
CHUNK = 20_000


def fill(db: Database, n_answers: int, seed: int, task: TaskType) -> tuple[int, list[int]]:
    """A project with ``n_answers`` current answers; returns (project id, annotator ids)."""
    owner = auth.create_user(db, "owner", "owner-password").id
    spec = ProjectCreate(name="big", task=task, labels=LABELS)
    pid = projects.create_project(db, owner, spec).id
    people = []
    for i in range(4):
        name = f"ann{i}"
        people.append(auth.create_user(db, name, f"{name}-password").id)
        members.add_member(db, None, pid, name, Role.ANNOTATOR)
    rng = random.Random(seed)
    now = time.time()
    for start in range(0, n_answers, CHUNK):
        stop = min(start + CHUNK, n_answers)
        with db.write() as s:
            first = (
                s.execute(
                    insert(Item).returning(Item.id),
                    [
                        {"project_id": pid, "text": f"t{i}", "meta": {}, "state": "done", "created_at": now}
                        for i in range(start, stop)
                    ],
                )
                .scalars()
                .all()
            )
            s.execute(
                insert(Annotation), [_answer(rng, task, pid, item_id, people, now) for item_id in first]
            )
    return pid, people


def _answer(
    rng: random.Random, task: TaskType, pid: int, item_id: int, people: list[int], now: float
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "item_id": item_id,
        "project_id": pid,
        "user_id": people[item_id % len(people)],
        "skipped": False,
        "client_key": uuid.uuid4().hex,
        "created_at": now,
    }
    if task is TaskType.CLASSIFY:
        row["label"] = rng.choice(LABELS)
        row["value"] = {"label": row["label"]}
    else:
        chosen = set(rng.sample(LABELS, rng.randint(1, 3)))
        row["value"] = {"labels": [x for x in LABELS if x in chosen]}
    return row


def one_more_answer(db: Database, pid: int, user: int, task: TaskType) -> None:
    """A new item and its answer, as a submit adds them (moves the project's state)."""
    rng = random.Random()
    with db.write() as s:
        item_id = s.execute(
            insert(Item).returning(Item.id),
            [{"project_id": pid, "text": "one more", "meta": {}, "state": "done", "created_at": time.time()}],
        ).scalar_one()
        s.execute(insert(Annotation), [_answer(rng, task, pid, item_id, [user], time.time())])


def forget() -> None:
    """Forget kept stats, where the service keeps any (it did not before the stats cache)."""
    try:
        kept = importlib.import_module("hitloop.services.project_stats")
    except ImportError:
        return
    kept._CACHE.clear()


def median_ms(call: Callable[[], Any], rounds: int, before: Callable[[], Any] | None = None) -> float:
    call()  # warm the caches the first call fills (statements, pages)
    times = []
    for _ in range(rounds):
        if before is not None:
            before()
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def profile(db: Database, call: Callable[[], Any], kind: str) -> list[dict[str, Any]]:
    """Each statement of one ``call``: its wall ms and its plan."""
    seen: list[dict[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["hl_t0"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        ms = (time.perf_counter() - conn.info.pop("hl_t0")) * 1000
        seen.append({"ms": round(ms, 1), "sql": " ".join(statement.split()), "parameters": parameters})

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        forget()
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    prefix = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    out = []
    for row in seen:
        if row["sql"].upper().startswith("SELECT"):
            with db.engine.connect() as conn:
                plan = conn.exec_driver_sql(prefix + row["sql"], row["parameters"]).all()
            row["plan"] = [" | ".join(str(c) for c in r) for r in plan]
        row.pop("parameters")
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--task", choices=["multilabel", "classify"], default="multilabel")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default=None, help="a postgresql+psycopg:// URL (default: SQLite)")
    parser.add_argument("--profile", action="store_true", help="time and EXPLAIN each statement")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    task = TaskType(args.task)
    with tempfile.TemporaryDirectory() as tmp, database_url(Path(tmp), args.database) as (url, kind):
        db = Database(url)
        db.upgrade()
        start = time.perf_counter()
        pid, people = fill(db, args.answers, args.seed, task)
        if kind == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        fill_s = time.perf_counter() - start
        owner = projects.get_project(db, pid, with_stats=True)
        assert owner.stats is not None and owner.stats.annotations == args.answers
        calls: dict[str, Callable[[], Any]] = {
            "owner_get": lambda: projects.get_project(db, pid, with_stats=True),
            "annotator_get": lambda: projects.get_project(db, pid, with_stats=True, answers_of=people[0]),
            "list": lambda: projects.list_projects(db),
        }
        results: dict[str, Any] = {"answers": args.answers, "task": task.value, "fill_s": round(fill_s, 1)}
        for name, call in calls.items():
            results[f"{name}_cold_ms"] = median_ms(call, args.rounds, before=forget)
            results[f"{name}_ms"] = median_ms(call, args.rounds)
            results[f"{name}_after_answer_ms"] = median_ms(
                call, args.rounds, before=lambda: one_more_answer(db, pid, people[0], task)
            )
        if args.profile:
            results["profile_owner"] = profile(db, calls["owner_get"], kind)
            results["profile_annotator"] = profile(db, calls["annotator_get"], kind)
        results.update(
            distribution=owner.stats.distribution,
            database=kind,
            database_version=database_version(url),
            load_avg=list(os.getloadavg()),
            machine=machine_info(kind, url),
        )
        db.dispose()
    print(
        json.dumps(
            {k: v for k, v in results.items() if k not in ("machine", "profile_owner", "profile_annotator")},
            indent=2,
        )
    )
    if args.profile:
        for row in results["profile_owner"] + results["profile_annotator"]:
            print(f"{row['ms']:>9.1f} ms  {row['sql'][:160]}")
            for line in row.get("plan", []):
                print(f"             {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
