"""The project page's agreement on a large multilabel project: one computation, then cached views.

    python benchmarks/agreement.py --json OUT [--labels 20] [--items 2300] [--raters 3] [--seed 0]
                                   [--max-sets 2000]

A fresh SQLite database gets a multilabel project with ``labels`` labels and
``items`` items; ``raters`` people answer every item with a random label set
(each label chosen with probability 0.3), so nearly every answer is a distinct
set: 20 labels and 2,300 items give about 6,500 distinct sets, the case whose
MASI α took 7-15 s on every page view before it was sampled and cached.
Reported: the first (cold) computation, the median of 50 views afterwards,
and, on the same table in memory, the MASI α on every item vs the sampled one.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Project
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import agreement, auth, items, projects
from hitloop.services.items import ItemLimits
from hitloop.types import ItemState


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--items", type=int, default=2300)
    parser.add_argument("--raters", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-sets",
        type=int,
        default=agreement.MASI_MAX_SETS,
        help="the sampling cap (a huge value: no sampling)",
    )
    args = parser.parse_args()
    agreement.MASI_MAX_SETS = args.max_sets
    rng = np.random.default_rng(args.seed)
    labels = [f"l{j}" for j in range(args.labels)]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.upgrade()
        owner = auth.create_user(db, "owner", "owner-password")
        pid = projects.create_project(
            db, owner.id, ProjectCreate(name="tags", task="multilabel", labels=labels)
        ).id
        texts = [ItemIn(text=f"t{i}") for i in range(args.items)]
        ids = items.add_items(db, pid, None, texts, ItemLimits())
        people = [auth.create_user(db, f"p{r}", f"p{r}-password").id for r in range(args.raters)]
        now = time.time()
        rows = []
        for item in ids:
            for user in people:
                chosen = [labels[j] for j in np.flatnonzero(rng.random(args.labels) < 0.3)]
                rows.append(
                    {
                        "item_id": item,
                        "project_id": pid,
                        "user_id": user,
                        "value": {"labels": chosen},
                        "skipped": False,
                        "client_key": uuid.uuid4().hex,
                        "created_at": now,
                    }
                )
        with db.write() as s:  # answers stored directly: this measures agreement, not submission
            s.execute(insert(Annotation), rows)
            s.execute(
                update(Item)
                .where(Item.project_id == pid)
                .values(state=ItemState.DONE.value, n_answers=args.raters)
            )
            s.execute(update(Project).where(Project.id == pid).values(overlap=args.raters))
        distinct = len({frozenset(r["value"]["labels"]) for r in rows})
        t0 = time.perf_counter()
        out = agreement.project_agreement(db, pid)
        cold = time.perf_counter() - t0
        views = []
        for _ in range(50):
            t0 = time.perf_counter()
            agreement.project_agreement(db, pid)
            views.append(time.perf_counter() - t0)
        db.dispose()
    result = {
        "labels": args.labels,
        "items": args.items,
        "raters": args.raters,
        "answers": len(rows),
        "distinct_sets": distinct,
        "masi_max_sets": agreement.MASI_MAX_SETS,
        "alpha_items": out.krippendorff_alpha_items,
        "alpha": out.krippendorff_alpha,
        "cold_seconds": round(cold, 3),
        "view_median_ms": round(1000 * statistics.median(views), 3),
        "view_max_ms": round(1000 * max(views), 3),
        "machine": f"{platform.machine()} {platform.node()}, python {platform.python_version()}",
    }
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
