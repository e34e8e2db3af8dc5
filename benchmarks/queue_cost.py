"""CPU cost of one labeling step (next + submit) in-process, through the services, on SQLite.

    python benchmarks/queue_cost.py [--overlap 1] [--gold-rate 0] [--rounds 5] [--steps 250]

Measures process CPU time (not wall time), so it is less sensitive than
benchmarks/loop.py to other work on a shared machine; it leaves out HTTP.
Four annotators (project members, roles enforced as through the API) take
turns; prints the median CPU milliseconds per next+submit over the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# This folder holds select.py (the selection benchmark), which would shadow the
# standard library's select module: put the folder last on sys.path.
sys.path.append(sys.path.pop(0))

from hitloop.db.engine import Database
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import annotations, auth, items, members, projects, queue, team
from hitloop.services.items import ItemLimits
from hitloop.types import Role


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--gold-rate", type=float, default=0.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=250)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hitloop-queue-cost-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.upgrade()
        owner = auth.create_user(db, "owner", "owner-password")
        pid = projects.create_project(db, owner.id, ProjectCreate(name="bench", labels=["a", "b"])).id
        n_items = args.rounds * args.steps * args.overlap + 100
        items.add_items(db, pid, owner.id, [ItemIn(text=f"t{i}") for i in range(n_items)], ItemLimits())
        team.update_team_settings(
            db, None, pid, TeamSettingsUpdate(overlap=args.overlap, gold_rate=args.gold_rate)
        )
        users = []
        for i in range(4):
            users.append(auth.create_user(db, f"annotator{i}", "annotator-password"))
            members.add_member(db, None, pid, f"annotator{i}", Role.ANNOTATOR)
        rounds = []
        for _ in range(args.rounds):
            start = time.process_time()
            for step in range(args.steps):
                user = users[step % len(users)]
                [item] = queue.next_items(db, pid, user.id, count=1, caller=user)
                body = AnnotationIn(value={"label": "a"}, client_key=uuid.uuid4().hex)
                annotations.submit(db, user.id, item.id, body, caller=user)
            rounds.append((time.process_time() - start) / args.steps * 1000)
        db.dispose()
    print(
        json.dumps(
            {
                "overlap": args.overlap,
                "gold_rate": args.gold_rate,
                "cpu_ms_per_step_median": round(statistics.median(rounds), 3),
                "rounds": [round(r, 3) for r in rounds],
            }
        )
    )


if __name__ == "__main__":
    main()
