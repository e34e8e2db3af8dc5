"""Adding a few items to a large text project that has a model: time until they have suggestions.

    python benchmarks/featurize_add.py --items 20000 --featurizer tfidf \
        --json benchmarks/results/featurize-add-tfidf.json
    python benchmarks/featurize_add.py --items 20000 --featurizer default \
        --json benchmarks/results/featurize-add-default.json

A text project of ``--items`` SST-2 sentences (../shared/data/text/sst2, drawn
with replacement past its 9,613 sentences) is imported and featurized (the
import's featurize job, timed apart), ``--seed-labels`` items are labeled and
the first model trained. Then, ``--rounds`` times, ``--add`` more sentences are
added through ``items.add_items`` (the service behind ``POST /items``), which
queues a featurize job; the job runner (threads, in this process) runs every
queued job, and the round ends when each added item has a suggestion. Each
round reports its wall seconds, the process's CPU seconds, the featurize
job's result (``appended``: rows added to the stored features; absent or None:
the featurizer was fitted on every item again) and the model version of the
new items' suggestions.

``--featurizer tfidf`` is word and character TF-IDF alone (``TextTfidf(char_ngrams=True)``);
``default`` is the project default (MiniLM + TF-IDF when the ``embeddings``
extra is installed). To time another checkout of hitloop, put its ``src``
first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module; look here last.
sys.path.append(sys.path.pop(0))
from _common import Record, database_url, load_sst2, machine_info, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--add", type=int, default=10, help="Items added per round.")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--featurizer", choices=("tfidf", "default"), default="tfidf")
    ap.add_argument("--seed-labels", type=int, default=40)
    ap.add_argument("--database", default=None, help="postgresql+psycopg:// URL (default SQLite)")
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--profile", default=None, help="Write a pyinstrument text profile of the rounds to this file."
    )
    args = ap.parse_args()

    from sqlalchemy import select

    import hitloop
    from hitloop.db.engine import Database
    from hitloop.db.tables import Item, Project, Suggestion
    from hitloop.jobs import JobRunner, records
    from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
    from hitloop.services import annotations, auth, items, projects, queue
    from hitloop.services.items import ItemLimits
    from hitloop.services.jobs import builtin_jobs
    from hitloop.settings import Settings

    print(f"hitloop from {Path(hitloop.__file__).parent}", flush=True)
    texts, truth = load_sst2(args.items + args.add * args.rounds, seed=0)
    pool, extra = texts[: args.items], texts[args.items :]
    answer_of = dict(zip(texts, truth, strict=True))
    tmp = Path(tempfile.mkdtemp(prefix="hitloop-featurize-add-"))
    out: dict[str, Any] = {"args": vars(args), "rounds": []}
    with database_url(tmp, args.database) as (url, kind):
        out["machine"] = machine_info(kind, url)
        settings = Settings(data_dir=tmp, database_url=url)
        db = Database(url)
        db.upgrade()
        owner = auth.create_user(db, "owner", "owner-password").id
        project = projects.create_project(
            db, owner, ProjectCreate(name="sst2", labels=["positive", "negative"])
        ).id
        if args.featurizer == "tfidf":
            with db.write() as s:
                row = s.get(Project, project)
                assert row is not None
                row.settings = {
                    **(row.settings or {}),
                    "featurizer": "tfidf",
                    "featurizer_params": {"char_ngrams": True},
                }
        items.import_records(
            db,
            None,  # type: ignore[arg-type]  (text items need no media store)
            project,
            owner,
            (Record(line=i + 1, text=x, external_id=str(i)) for i, x in enumerate(pool)),
            source="sst2",
            limits=ItemLimits(),
        )
        runner = JobRunner(db, settings, builtin_jobs(), poll_s=0.5)
        t = time.perf_counter()
        while runner.run_next():
            pass
        out["first_featurize_s"] = round(time.perf_counter() - t, 2)
        print(f"featurize {out['first_featurize_s']} s", flush=True)

        seeded = queue.next_items(db, project, owner, count=args.seed_labels, max_leases=args.seed_labels)
        with db.read() as s:
            text_of = dict(s.execute(select(Item.id, Item.text).where(Item.project_id == project)).all())
        for it in seeded:
            label = answer_of[text_of[it.id]]
            body = AnnotationIn(value={"label": label}, client_key=f"seed-label-{it.id}")
            annotations.submit(db, owner, it.id, body)
        t = time.perf_counter()
        while runner.run_next():
            pass
        out["first_model_s"] = round(time.perf_counter() - t, 2)
        print(f"first model {out['first_model_s']} s", flush=True)

        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.002)
            profiler.start()
        for r in range(args.rounds):
            batch = extra[r * args.add : (r + 1) * args.add]
            t, cpu = time.perf_counter(), time.process_time()
            new = items.add_items(db, project, owner, [ItemIn(text=x) for x in batch], ItemLimits())
            jobs = []
            while (claimed := records.claim(db)) is not None:
                runner.run_claimed(claimed)
                jobs.append(records.get(db, claimed.id))
            wall, cpu = time.perf_counter() - t, time.process_time() - cpu
            with db.read() as s:
                versions = dict(
                    s.execute(
                        select(Suggestion.item_id, Suggestion.model_version_id).where(
                            Suggestion.item_id.in_(new)
                        )
                    ).all()
                )
            assert set(versions) == set(new), "some added items have no suggestion"
            result = jobs[0].result or {} if jobs else {}
            entry = {
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "jobs": [(j.kind, j.state) for j in jobs],
                "appended": result.get("appended"),
                "retrained": "model_version_id" in result,
                "suggestion_versions": sorted(set(versions.values())),
            }
            out["rounds"].append(entry)
            print(f"round {r + 1}: {entry}", flush=True)
        if profiler is not None:
            profiler.stop()
            Path(args.profile).write_text(profiler.output_text(unicode=True, show_all=False))
    out["loadavg_at_end"] = os.getloadavg()
    write_json(args.json, out)


if __name__ == "__main__":
    main()
