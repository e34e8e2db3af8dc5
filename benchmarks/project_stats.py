"""Time of a project's stats (the project page, ``GET /api/projects/{id}``) as answers grow.

    python benchmarks/project_stats.py [--answers 200000] [--rounds 5] [--database URL]

Fills one multilabel project (8 labels, 1-3 chosen per answer, one answer per
item, four annotators) by bulk inserts, then times ``projects.get_project``
with stats for the owner (everyone's answers) and for one annotator (their own),
and ``projects.list_projects``. Prints the median wall milliseconds of each.
Without ``--database``: a fresh SQLite file; with a ``postgresql+psycopg://``
URL: a fresh schema there, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
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
from sqlalchemy import insert

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, members, projects
from hitloop.types import Role, TaskType

LABELS = [f"label{i}" for i in range(8)]
CHUNK = 20_000


def fill(db: Database, n_answers: int, seed: int) -> tuple[int, list[int]]:
    """A multilabel project with ``n_answers`` current answers; returns (project id, annotator ids)."""
    owner = auth.create_user(db, "owner", "owner-password").id
    spec = ProjectCreate(name="big", task=TaskType.MULTILABEL, labels=LABELS)
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
            rows = []
            for item_id in first:
                chosen = set(rng.sample(LABELS, rng.randint(1, 3)))
                rows.append(
                    {
                        "item_id": item_id,
                        "project_id": pid,
                        "user_id": people[item_id % len(people)],
                        "value": {"labels": [x for x in LABELS if x in chosen]},
                        "skipped": False,
                        "client_key": uuid.uuid4().hex,
                        "created_at": now,
                    }
                )
            s.execute(insert(Annotation), rows)
    return pid, people


def median_ms(call: Callable[[], Any], rounds: int) -> float:
    call()  # warm the caches the first call fills (statements, pages)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default=None, help="a postgresql+psycopg:// URL (default: SQLite)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database_url(Path(tmp), args.database) as (url, kind):
        db = Database(url)
        db.upgrade()
        start = time.perf_counter()
        pid, people = fill(db, args.answers, args.seed)
        fill_s = time.perf_counter() - start
        owner = projects.get_project(db, pid, with_stats=True)
        assert owner.stats is not None and owner.stats.annotations == args.answers
        results = {
            "answers": args.answers,
            "fill_s": round(fill_s, 1),
            "owner_get_ms": median_ms(lambda: projects.get_project(db, pid, with_stats=True), args.rounds),
            "annotator_get_ms": median_ms(
                lambda: projects.get_project(db, pid, with_stats=True, answers_of=people[0]), args.rounds
            ),
            "list_ms": median_ms(lambda: projects.list_projects(db), args.rounds),
            "distribution": owner.stats.distribution,
            "database": kind,
            "database_version": database_version(url),
            "machine": machine_info(kind, url),
        }
        db.dispose()
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
