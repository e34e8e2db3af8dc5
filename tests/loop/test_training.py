"""Featurize, train and score jobs on a real project (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from hitloop import plugins
from hitloop.db.tables import Annotation, Item, ModelVersion, Suggestion
from hitloop.errors import InputError, NotFoundError
from hitloop.jobs import records
from hitloop.media.store import MediaStore
from hitloop.schemas import AnnotationIn, LoopSettingsUpdate, ProjectCreate
from hitloop.services import annotations, auth, items, loop_settings, projects, queue, retrain, training
from hitloop.services.items import ItemLimits
from tests.loop.conftest import FILLER, NEGATIVE, POSITIVE, Loop

WORDS = POSITIVE + NEGATIVE + FILLER


def _priorities(loop: Loop) -> dict[int, float]:
    with loop.db.read() as s:
        return dict(s.execute(select(Item.id, Item.priority).where(Item.project_id == loop.project)).all())


def test_training_labels_take_each_items_majority_and_ignore_skips_and_superseded(loop: Loop) -> None:
    a, b, c = loop.ids[:3]
    others = [auth.create_user(loop.db, f"u{i}", "pw-pw-pw-pw").id for i in range(2)]
    submit = annotations.submit
    submit(loop.db, loop.user, a, AnnotationIn(value={"label": "pos"}, client_key="k-a-0000"))
    submit(loop.db, loop.user, a, AnnotationIn(value={"label": "neg"}, client_key="k-a-0001"))  # an edit
    submit(loop.db, loop.user, b, AnnotationIn(skip=True, client_key="k-b-0000"))
    with loop.db.write() as s:  # two more people on item c (overlap is the teams work; rows suffice)
        for n, (u, label) in enumerate([(loop.user, "pos"), (others[0], "neg"), (others[1], "neg")]):
            s.add(
                Annotation(
                    item_id=c,
                    project_id=loop.project,
                    user_id=u,
                    value={"label": label},
                    label=label,
                    skipped=False,
                    client_key=f"k-c-{n}-xxxx",
                    created_at=0.0,
                )
            )
    assert training.training_labels(loop.db, loop.project) == {a: "neg", c: "neg"}


def test_train_job_creates_a_version_suggestions_and_priorities(loop: Loop) -> None:
    labeled = loop.ids[:20]
    loop.label(labeled)
    jobs = loop.run_jobs()  # the 20th label queued a train job (retrain_every = 20)
    assert [j.kind for j in jobs] == ["train"] and jobs[0].state == "done", jobs[0].error
    result = jobs[0].result or {}
    assert result["n_train"] == 20 and result["scored"] == 40
    assert result["accuracy"] is not None and result["accuracy"] >= 0.8
    models = training.list_models(loop.db, loop.project)
    assert len(models.versions) == 1 and models.versions[0].n_train == 20
    assert models.versions[0].metrics["cv_folds"] == 5
    assert models.learning_curve[0].accuracy == result["accuracy"]

    with loop.db.read() as s:
        suggestions = {r.item_id: r for r in s.scalars(select(Suggestion))}
    assert set(suggestions) == set(loop.ids[20:])
    correct = sum(suggestions[i].label == loop.truth[i] for i in suggestions)
    assert correct / len(suggestions) >= 0.9
    some = suggestions[loop.ids[25]]
    assert 0.5 <= (some.confidence or 0) <= 1 and set(some.probs or {}) == {"pos", "neg"}
    words = [w for w, weight in (some.explanation or {})["words"]]
    assert words and all(weight > 0 for _, weight in some.explanation["words"])
    assert set(words) <= set(POSITIVE + NEGATIVE + FILLER) | {f"{a} {b}" for a in WORDS for b in WORDS}
    assert set(words) & set(POSITIVE + NEGATIVE)

    # Priorities: the model version's id plus a rank in (0, 1] for every unlabeled item, the
    # strategy's batch first (a newer model's rows come before any an older one wrote).
    priorities = _priorities(loop)
    pool = sorted((priorities[i] for i in loop.ids[20:]), reverse=True)
    version = result["model_version_id"]
    assert pool[0] == version + 1.0 and len(set(pool)) == 40 and version < pool[-1] < version + 1
    first = queue.next_items(loop.db, loop.project, loop.user, count=3)
    assert [i.id for i in first] == result["batch"][:3]
    assert (
        first[0].suggestion is not None and first[0].suggestion.model_version_id == result["model_version_id"]
    )
    assert first[0].suggestion.label in {"pos", "neg"}


def test_submit_records_what_the_annotator_was_shown(loop: Loop) -> None:
    item = loop.ids[0]
    shown = {"value": {"label": "pos"}, "model_version_id": None, "preselected": True}
    annotations.submit(
        loop.db, loop.user, item, AnnotationIn(value={"label": "pos"}, client_key="shown-key-1", shown=shown)
    )
    with loop.db.read() as s:
        assert s.scalar(select(Annotation.shown).where(Annotation.item_id == item)) == shown


def test_retraining_is_queued_every_n_labels_never_twice(loop: Loop) -> None:
    loop_settings.update_loop_settings(loop.db, loop.project, None, LoopSettingsUpdate(retrain_every=5))
    loop.label(loop.ids[:4])
    assert records.list_jobs(loop.db, project_id=loop.project) == []
    loop.label(loop.ids[4:15])  # crosses 5 twice more while the first job waits: still one job
    queued = records.list_jobs(loop.db, project_id=loop.project)
    assert [(j.kind, j.state) for j in queued] == [("train", "queued")]
    job, created = retrain.request_training(loop.db, loop.project, None)
    assert not created and job.id == queued[0].id
    loop.run_jobs()
    with loop.db.read() as s:
        metrics = s.scalars(select(ModelVersion.metrics)).one()
        newest = s.scalar(select(func.max(Annotation.id)))
    # The model remembers the newest answer it saw; only answers above it count as new.
    assert metrics["last_annotation_id"] == newest and metrics["n_annotations"] == 15
    loop.label(loop.ids[15:19])
    assert records.list_jobs(loop.db, project_id=loop.project, state="queued") == []
    loop.label(loop.ids[19:20])
    assert [j.kind for j in records.list_jobs(loop.db, project_id=loop.project, state="queued")] == ["train"]


def test_with_retraining_off_the_submit_path_checks_rarely_and_on_again_at_once(loop: Loop) -> None:
    update = LoopSettingsUpdate(retrain_every=5, auto_retrain=False)
    loop_settings.update_loop_settings(loop.db, loop.project, None, update)
    loop.label(loop.ids[:10])
    assert records.list_jobs(loop.db, project_id=loop.project) == []
    # Off: this process counts up to OFF_RECHECK_EVERY labels before it looks at the database again.
    assert loop.db.memo["retrain_every"][loop.project] == retrain.OFF_RECHECK_EVERY
    loop_settings.update_loop_settings(loop.db, loop.project, None, LoopSettingsUpdate(auto_retrain=True))
    assert loop.db.memo["retrain_every"][loop.project] == 5
    loop.label(loop.ids[10:11])  # the labels given while it was off count too
    assert [j.kind for j in records.list_jobs(loop.db, project_id=loop.project)] == ["train"]


def test_one_class_fails_the_job_and_keeps_the_previous_order(loop: Loop) -> None:
    before = _priorities(loop)
    loop.label(loop.ids[:20], wrong=True)  # everything "pos"
    [job] = loop.run_jobs()
    assert job.state == "failed"
    assert job.error == (
        "field 'labels': training needs labels of at least two classes; 20 labeled items, classes seen: pos"
    )
    assert _priorities(loop) == before
    with loop.db.read() as s:
        assert s.scalar(select(ModelVersion.id)) is None


class _NanFeatures:
    """A featurizer plugin that returns NaN features, to show how a learner failure surfaces."""

    modality = "text"

    def fit(self, X: object, y: object = None) -> _NanFeatures:
        return self

    def transform(self, X: list[str]) -> np.ndarray:
        return np.full((len(X), 3), np.nan)

    def get_params(self, deep: bool = True) -> dict[str, object]:
        return {}


class _Plugin:
    @plugins.hookimpl
    def hitloop_featurizers(self) -> dict[str, object]:
        return {"nan-test": _NanFeatures}


@pytest.fixture
def nan_plugin() -> object:
    plugin = _Plugin()
    plugins.register(plugin, name="nan-test")
    yield plugin
    plugins.plugin_manager().unregister(plugin)


def test_nan_features_fail_the_job_with_a_clear_message(loop: Loop, nan_plugin: object) -> None:
    from hitloop.db.tables import Project

    with loop.db.write() as s:
        project = s.get(Project, loop.project)
        assert project is not None
        project.settings = {"featurizer": "nan-test"}
    loop.label(loop.ids[:20])
    [job] = loop.run_jobs()
    assert job.state == "failed"
    assert job.error == (
        "field 'learner': the learner 'LogisticLearner' failed while training on 20 labels:"
        " features contain NaN or infinite values"
    )


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"strategy": "smallest-margin"}, "strategy", "unknown strategy 'smallest-margin'"),
        ({"learner": "forest"}, "learner", "unknown learner 'forest'"),
        ({"learner": "logistic", "learner_params": {"depth": 3}}, "learner", "invalid parameters"),
        ({"learner_params": {"C": 1.0}}, "learner_params", "the default learner takes no parameters"),
    ],
    ids=["strategy", "learner", "learner-params", "default-params"],
)
def test_unknown_names_and_parameters_are_refused_and_change_nothing(
    loop: Loop, patch: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        loop_settings.update_loop_settings(loop.db, loop.project, None, LoopSettingsUpdate(**patch))
    assert caught.value.field == field
    assert loop_settings.get_loop_settings(loop.db, loop.project).strategy == "diverse-margin"


def test_settings_choose_the_strategy_and_learner(loop: Loop) -> None:
    update = LoopSettingsUpdate(strategy="entropy", learner="logistic", learner_params={"C": 1.0}, batch=5)
    chosen = loop_settings.update_loop_settings(loop.db, loop.project, None, update)
    assert (chosen.strategy, chosen.learner, chosen.learner_params, chosen.batch) == (
        "entropy",
        "logistic",
        {"C": 1.0},
        5,
    )
    loop.label(loop.ids[:20])
    [job] = loop.run_jobs()
    assert job.state == "done", job.error
    version = training.list_models(loop.db, loop.project).versions[0]
    assert version.learner == "logistic" and version.params["C"] == 1.0
    assert len((job.result or {})["batch"]) == 5
    with pytest.raises(NotFoundError):
        loop_settings.get_loop_settings(loop.db, 999)


def test_imports_queue_features_only_when_the_loop_retrains_by_itself(loop: Loop, tmp_path: Path) -> None:
    from hitloop.formats.records import ItemRecord

    def import_two(project_id: int) -> None:
        records_in = [ItemRecord(i + 1, f"text {i}", None, None, {}, None) for i in range(2)]
        items.import_records(
            loop.db, MediaStore(tmp_path), project_id, loop.user, records_in, source="t", limits=ItemLimits()
        )

    manual = projects.create_project(
        loop.db, loop.user, ProjectCreate(name="manual", labels=["pos", "neg"])
    ).id
    loop_settings.update_loop_settings(loop.db, manual, None, LoopSettingsUpdate(auto_retrain=False))
    auto = projects.create_project(loop.db, loop.user, ProjectCreate(name="auto", labels=["pos", "neg"])).id
    import_two(manual)
    import_two(auto)
    assert records.list_jobs(loop.db, project_id=manual) == []
    assert [j.kind for j in records.list_jobs(loop.db, project_id=auto)] == ["featurize"]
