"""An audio classification project runs the model loop: featurized recordings, training, suggestions."""

from __future__ import annotations

from hitloop.db.engine import Database
from hitloop.media.store import MediaStore
from hitloop.schemas import LoopSettingsUpdate, ProjectCreate
from hitloop.services import auth, items, projects
from hitloop.services.items import ItemLimits
from hitloop.services.loop_settings import get_loop_settings, update_loop_settings
from hitloop.settings import Settings
from tests.loop.conftest import label_train_and_suggest
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
    rows = label_train_and_suggest(db, settings, project, user, truth, ids[:16])
    assert len(rows) == 8
    assert sum(r.label == truth[r.item_id] for r in rows) >= 7


def test_an_audio_project_queues_with_cover_margin_unless_it_chose_a_strategy(db: Database) -> None:
    user = auth.create_user(db, "ann", "ann-password").id
    audio = projects.create_project(db, user, ProjectCreate(name="w", modality="audio", labels=["a", "b"])).id
    text = projects.create_project(db, user, ProjectCreate(name="t", modality="text", labels=["a", "b"])).id
    assert get_loop_settings(db, audio).strategy == "cover-margin"
    assert get_loop_settings(db, text).strategy == "diverse-margin"
    assert update_loop_settings(db, audio, user, LoopSettingsUpdate(batch=5)).strategy == "cover-margin"
    update_loop_settings(db, audio, user, LoopSettingsUpdate(strategy="margin"))
    assert get_loop_settings(db, audio).strategy == "margin"
