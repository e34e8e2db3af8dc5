"""An audio classification project runs the model loop: featurized recordings, training, suggestions."""

from __future__ import annotations

from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Suggestion
from hitloop.jobs import JobRunner, records
from hitloop.media.store import MediaStore
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects, retrain
from hitloop.services.items import ItemLimits
from hitloop.services.jobs import builtin_jobs
from hitloop.settings import Settings
from tests.sounds import encode, tone


def test_an_audio_project_trains_and_suggests(db: Database, settings: Settings) -> None:
    user = auth.create_user(db, "ann", "ann-password").id
    spec = ProjectCreate(name="pitch", modality="audio", labels=["low", "high"])
    project = projects.create_project(db, user, spec).id
    store = MediaStore(settings.media_dir)
    ids, truth = [], {}
    for i in range(24):
        low = i % 2 == 0
        clip = encode(tone(0.3, freq=(250 if low else 2000) + 11 * i, rate=8000), 8000)
        item = items.add_audio(db, store, project, user, clip, filename=f"{i}.wav", limits=ItemLimits())
        ids.append(item)
        truth[item] = "low" if low else "high"
    for i in ids[:16]:
        annotations.submit(db, user, i, AnnotationIn(value={"label": truth[i]}, client_key=f"pitch-key-{i}"))
    job, _ = retrain.request_training(db, project, user)
    runner = JobRunner(db, settings, builtin_jobs())
    while (claimed := records.claim(db)) is not None:
        runner.run_claimed(claimed)
    done = records.get(db, job.id)
    assert done.state == "done", done.error
    with db.read() as s:
        rows = list(s.scalars(select(Suggestion)))
    assert len(rows) == 8
    assert sum(r.label == truth[r.item_id] for r in rows) >= 7
