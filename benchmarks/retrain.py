"""Retraining latency: from the Nth new label to updated priorities being served, under load.

    python benchmarks/retrain.py --items 1000 --seconds 30 --json benchmarks/results/retrain-1k.json
    python benchmarks/retrain.py --items 100000 --seconds 90 --json benchmarks/results/retrain-100k.json

A text project of N items (SST-2 sentences from ../shared/data/text/sst2, drawn
with replacement past its 9,613 sentences) is imported and featurized once (the
import's featurize job, timed apart). Seed labels give a first model. Then
``--annotators`` threads label through the same services the server calls
(``queue.next_items``, ``annotations.submit``, answering from SST-2's labels
after ``--think`` seconds), while the server's job runner (threads, in this
process, as in ``hitloop serve``) retrains every ``--retrain-every`` labels.

For every train job it reports: from the submit that queued it (the Nth label)
to the first ``next`` that served an item carrying the new model's suggestion
(``label_to_served_s``), and to the end of the job (``label_to_job_end_s``);
the CPU seconds of the job's thread (``job_cpu_s``: its own work, whatever
the load) and the rows it wrote (fewer than the pool when labels kept coming);
and the annotators' next-item latency (p50, p99) while a train job was running
and while none was.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module; look here last.
sys.path.append(sys.path.pop(0))
from _common import Record, database_url, load_sst2, machine_info, write_json


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 2) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0, help="How long the annotators label.")
    ap.add_argument("--annotators", type=int, default=4)
    ap.add_argument("--think", type=float, default=0.2, help="Seconds an annotator looks at an item.")
    ap.add_argument("--retrain-every", type=int, default=20)
    ap.add_argument("--seed-labels", type=int, default=40)
    ap.add_argument("--database", default=None, help="postgresql+psycopg:// URL (default SQLite)")
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--profile", default=None, help="Write a pyinstrument HTML profile of one train job here."
    )
    args = ap.parse_args()

    from hitloop.db.engine import Database
    from hitloop.jobs import JobRunner, records
    from hitloop.schemas import AnnotationIn, LoopSettingsUpdate, ProjectCreate
    from hitloop.services import annotations, auth, items, loop_settings, projects, queue
    from hitloop.services.items import ItemLimits
    from hitloop.services.jobs import builtin_jobs
    from hitloop.settings import Settings

    texts, truth = load_sst2(args.items, seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="hitloop-retrain-"))
    with database_url(tmp, args.database) as (url, kind):
        settings = Settings(data_dir=tmp, database_url=url)
        db = Database(url)
        db.upgrade()
        owner = auth.create_user(db, "owner", "owner-password").id
        users = [auth.create_user(db, f"a{i}", "annotator-pw").id for i in range(args.annotators)]
        project = projects.create_project(
            db, owner, ProjectCreate(name="sst2", labels=["positive", "negative"])
        ).id
        loop_settings.update_loop_settings(
            db, project, owner, LoopSettingsUpdate(retrain_every=args.retrain_every)
        )
        t = time.perf_counter()
        items.import_records(
            db,
            None,  # type: ignore[arg-type]  (text items need no media store)
            project,
            owner,
            (Record(line=i + 1, text=x, external_id=str(i)) for i, x in enumerate(texts)),
            source="sst2",
            limits=ItemLimits(),
        )
        import_s = time.perf_counter() - t
        with db.read() as s:
            from sqlalchemy import select

            from hitloop.db.tables import Item

            ids = list(s.scalars(select(Item.id).where(Item.project_id == project).order_by(Item.id)))
        answer = dict(zip(ids, truth, strict=True))

        runner = JobRunner(db, settings, builtin_jobs(), poll_s=0.5)
        # The import queued a featurize job; run it here, timed.
        t = time.perf_counter()
        assert runner.run_next()
        featurize = records.list_jobs(db, project_id=project)[0]
        featurize_s = time.perf_counter() - t
        print(f"import {import_s:.1f} s, featurize {featurize_s:.1f} s ({featurize.state})", flush=True)

        # Seed labels (the cold-start order's first items), then the first model.
        seeded = queue.next_items(db, project, owner, count=args.seed_labels, max_leases=args.seed_labels)
        for it in seeded:
            annotations.submit(
                db,
                owner,
                it.id,
                AnnotationIn(value={"label": answer[it.id]}, client_key=f"seed-label-{it.id}"),
            )
        t = time.perf_counter()
        while runner.run_next():
            pass
        first_model_s = time.perf_counter() - t
        print(f"first model {first_model_s:.1f} s", flush=True)

        if args.profile:
            from pyinstrument import Profiler

            job = records.create(db, "train", project_id=project)
            profiler = Profiler()
            profiler.start()
            runner.run_next(job_id=job.id)
            profiler.stop()
            Path(args.profile).write_text(profiler.output_html())
            print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])

        runner.start()
        stop = threading.Event()
        calls: list[tuple[float, float, int | None]] = []  # (start, seconds, model version seen)
        labels: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def annotate(user: int, seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    got = queue.next_items(db, project, user, count=1)
                except Exception as exc:  # recorded, the run goes on
                    errors.append(f"next: {type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - t0
                if not got:
                    with lock:
                        calls.append((t0, took, None))
                    time.sleep(0.05)
                    continue
                item = got[0]
                version = item.suggestion.model_version_id if item.suggestion else None
                with lock:
                    calls.append((t0, took, version))
                time.sleep(args.think * rng.uniform(0.5, 1.5))
                shown = None
                if item.suggestion is not None:
                    shown = {"value": item.suggestion.value, "model_version_id": version, "preselected": True}
                try:
                    annotations.submit(
                        db,
                        user,
                        item.id,
                        AnnotationIn(
                            value={"label": answer[item.id]},
                            client_key=f"label-{item.id}-{user}",
                            shown=shown,
                        ),
                    )
                    with lock:
                        labels.append(time.perf_counter())
                except Exception as exc:
                    errors.append(f"submit: {type(exc).__name__}: {exc}")

        # perf_counter and wall clock: job rows hold wall-clock times.
        offset = time.time() - time.perf_counter()
        threads = [threading.Thread(target=annotate, args=(u, i)) for i, u in enumerate(users)]
        started = time.perf_counter()
        for th in threads:
            th.start()
        time.sleep(args.seconds)
        stop.set()
        for th in threads:
            th.join()
        ended = time.perf_counter()
        runner.stop(timeout_s=120)

        from hitloop.db.tables import ModelVersion

        trains = [
            j
            for j in records.list_jobs(db, project_id=project, limit=10_000)
            if j.kind == "train" and j.created_at.timestamp() - offset >= started
        ]
        with db.read() as s:
            version_of_job = dict(s.execute(select(ModelVersion.job_id, ModelVersion.id)).all())
        first_seen: dict[int, float] = {}
        for t0, took, version in sorted(calls):
            if version is not None and version not in first_seen:
                first_seen[version] = t0 + took
        cycles = []
        busy: list[tuple[float, float]] = []
        for j in sorted(trains, key=lambda j: j.id):
            queued = j.created_at.timestamp() - offset
            if j.started_at is not None:
                busy.append(
                    (j.started_at.timestamp() - offset, (j.finished_at or j.started_at).timestamp() - offset)
                )
            version = version_of_job.get(j.id)
            row: dict[str, Any] = {
                "job": j.id,
                "state": j.state,
                "n_train": (j.result or {}).get("n_train"),
                "queue_wait_s": round(j.started_at.timestamp() - offset - queued, 3)
                if j.started_at
                else None,
                "label_to_job_end_s": round(j.finished_at.timestamp() - offset - queued, 3)
                if j.finished_at
                else None,
                "label_to_served_s": round(first_seen[version] - queued, 3)
                if version in first_seen
                else None,
                "job_seconds": (j.result or {}).get("seconds"),
                "train_seconds": (j.result or {}).get("train_seconds"),
                "job_cpu_s": (j.result or {}).get("cpu_seconds"),
                "rows_written": (j.result or {}).get("written"),
                "accuracy_cv": (j.result or {}).get("accuracy"),
            }
            cycles.append(row)
            print(json.dumps(row), flush=True)

        def during(t0: float) -> bool:
            return any(a <= t0 <= b for a, b in busy)

        busy_lat = [took for t0, took, _ in calls if during(t0)]
        idle_lat = [took for t0, took, _ in calls if not during(t0)]
        # Jobs the end of the run interrupted (or never started) are listed but not counted.
        finished = [c for c in cycles if c["state"] == "done"]
        served = [c["label_to_served_s"] for c in finished if c["label_to_served_s"] is not None]
        ends = [c["label_to_job_end_s"] for c in finished if c["label_to_job_end_s"] is not None]
        cpus = [c["job_cpu_s"] for c in finished if c["job_cpu_s"] is not None]
        out = {
            "benchmark": "retrain",
            "items": args.items,
            "annotators": args.annotators,
            "think_s": args.think,
            "retrain_every": args.retrain_every,
            "seconds": round(ended - started, 1),
            "import_s": round(import_s, 2),
            "featurize_s": round(featurize_s, 2),
            "features": (featurize.result or {}).get("features"),
            "first_model_s": round(first_model_s, 2),
            "labels": len(labels),
            "train_jobs": len(cycles),
            "label_to_served_s": {
                "median": round(float(np.median(served)), 3) if served else None,
                "max": max(served) if served else None,
            },
            "label_to_job_end_s": {
                "median": round(float(np.median(ends)), 3) if ends else None,
                "max": max(ends) if ends else None,
            },
            "job_cpu_s": {
                "median": round(float(np.median(cpus)), 3) if cpus else None,
                "max": max(cpus) if cpus else None,
            },
            "next_ms_during_training": {
                "n": len(busy_lat),
                "p50": pct(busy_lat, 50),
                "p99": pct(busy_lat, 99),
            },
            "next_ms_otherwise": {"n": len(idle_lat), "p50": pct(idle_lat, 50), "p99": pct(idle_lat, 99)},
            "errors": errors[:20],
            "cycles": cycles,
            "machine": machine_info(kind, url),
        }
        db.dispose()
    print(json.dumps({k: v for k, v in out.items() if k not in ("cycles", "machine")}, indent=2))
    write_json(args.json, out)


if __name__ == "__main__":
    main()
