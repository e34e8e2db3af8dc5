"""Features on disk (aligned with item ids, reused until items change) and items added after a model.

Items added through the API (``items.add_items``, behind ``POST /items``) or
an upload (``items.add_image``) once a project has a model queue one
featurize job. When the stored features cover every older item and the pool
grew by at most ``REFIT_GROWTH`` since the featurizer was fitted, the job
transforms only the new items with the stored featurizer, appends their rows
and scores them with the current model (no new version). A larger addition, a
changed featurizer or a deleted item fits the featurizer again and retrains,
so every unlabeled item, old or new, gets a suggestion from a model and the
queue keeps a model's order. A score job that finds the features made again
since the model retrains too, instead of falling back to the cold-start order.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import delete, select

from hitloop.db.engine import Database
from hitloop.db.tables import Item, ModelVersion, Suggestion
from hitloop.jobs import JobRunner, records
from hitloop.schemas import ItemIn, LoopSettingsUpdate
from hitloop.services import feature_store, items, loop_settings, queue, training
from hitloop.services import features as feature_service
from hitloop.services.items import ItemLimits
from hitloop.services.jobs import builtin_jobs
from hitloop.settings import Settings
from tests.loop.conftest import Loop, digit_png, label_train_and_suggest, make_digit_project, make_texts


def _featurize(loop: Loop) -> feature_service.FeatureBundle:
    records.create(loop.db, "featurize", project_id=loop.project)
    [job] = loop.run_jobs()
    assert job.kind == "featurize" and job.state == "done", job.error
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None
    return bundle


def _dense(X: object) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X)  # type: ignore[union-attr]


def test_features_are_stored_aligned_with_item_ids(loop: Loop) -> None:
    bundle = _featurize(loop)
    path = feature_service.feature_path(loop.settings, loop.project, bundle.key)
    assert path.is_file() and path.parent == loop.settings.features_dir / str(loop.project)
    assert bundle.ids.tolist() == sorted(loop.ids)
    assert bundle.X.shape[0] == len(loop.ids)
    # Row k describes item ids[k]: the stored featurizer turns that item's text into that row.
    with loop.db.read() as s:
        texts = dict(s.execute(select(Item.id, Item.text).where(Item.project_id == loop.project)).all())
    some = [loop.ids[0], loop.ids[17], loop.ids[-1]]
    rows = bundle.positions(some)
    again = bundle.featurizer.transform([texts[i] for i in some])
    # (Float32 sentence embeddings: a batch of 3 pads differently from the whole pool, which
    # changes the order of sums, so rows agree to rounding, not bit for bit.)
    assert np.allclose(_dense(bundle.X[rows]), _dense(again), rtol=1e-5, atol=1e-6)
    assert not np.allclose(_dense(bundle.X[rows[0]]), _dense(bundle.X[rows[1]]))
    with pytest.raises(LookupError, match="no features yet"):
        bundle.positions([max(loop.ids) + 1])
    assert feature_service.load_features(loop.settings, loop.project, "no-such-featurizer") is None


def test_features_are_reused_until_items_are_added(loop: Loop) -> None:
    bundle = _featurize(loop)
    path = feature_service.feature_path(loop.settings, loop.project, bundle.key)
    stamp = path.stat().st_mtime_ns
    loaded = feature_service.load_features(loop.settings, loop.project, bundle.key)
    assert loaded is not None and loaded.generation == bundle.generation

    loop.label(loop.ids[:20])  # queues a train job: it reads these features, it does not make them again
    [job] = loop.run_jobs()
    assert job.kind == "train" and job.state == "done", job.error
    assert path.stat().st_mtime_ns == stamp
    reused = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert reused is not None and reused.generation == bundle.generation
    with loop.db.read() as s:
        artifact = s.scalars(select(ModelVersion.artifact)).one()
    assert training.load_model(artifact)["feature_generation"] == bundle.generation

    texts, _ = make_texts(3, seed=7)
    items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
    assert feature_service.up_to_date(loop.db, loop.settings, loop.project) is None  # stale
    old = feature_service.load_features(loop.settings, loop.project, bundle.key)
    assert old is not None and len(old.ids) == len(loop.ids)  # still on disk, no longer current


def _unlabeled_state(loop: Loop) -> tuple[dict[int, float], dict[int, int | None]]:
    """Priority and suggestion's model version of every unlabeled item of the project."""
    labeled = set(training.training_labels(loop.db, loop.project))
    with loop.db.read() as s:
        priorities = dict(
            s.execute(select(Item.id, Item.priority).where(Item.project_id == loop.project)).all()
        )
        versions = dict(
            s.execute(
                select(Suggestion.item_id, Suggestion.model_version_id).where(
                    Suggestion.project_id == loop.project
                )
            ).all()
        )
    unlabeled = sorted(set(priorities) - labeled)
    return {i: priorities[i] for i in unlabeled}, {i: versions.get(i) for i in unlabeled}


def _assert_model_ordered(loop: Loop, version: int) -> None:
    """Every unlabeled item has a suggestion from ``version`` and a priority in its band."""
    priorities, versions = _unlabeled_state(loop)
    assert set(versions.values()) == {version}
    assert all(version < p <= version + 1 for p in priorities.values())
    assert max(priorities.values()) == version + 1.0
    served = queue.next_items(loop.db, loop.project, loop.user, count=5)
    expected = sorted(priorities, key=lambda i: (-priorities[i], i))[:5]
    assert [i.id for i in served] == expected
    assert all(i.suggestion is not None and i.suggestion.model_version_id == version for i in served)


def test_items_added_after_a_model_get_suggestions_and_keep_a_model_order(loop: Loop) -> None:
    loop.label(loop.ids[:20])
    [first] = loop.run_jobs()
    assert first.state == "done", first.error
    assert set(_unlabeled_state(loop)[1].values()) == {1}

    texts, truth = make_texts(10, seed=5)
    new: list[int] = []
    for k in range(0, 10, 2):  # five requests of two items: one featurize job waits for all of them
        new += items.add_items(
            loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts[k : k + 2]], ItemLimits()
        )
    waiting = records.list_jobs(loop.db, project_id=loop.project, state="queued")
    assert [(j.kind, j.args) for j in waiting] == [("featurize", {"reason": "items added"})]

    jobs = loop.run_jobs()
    assert [(j.kind, j.state) for j in jobs] == [("featurize", "done")], [j.error for j in jobs]
    result = jobs[0].result or {}
    # 10 more than the 60 the featurizer was fitted on: appended, scored by the current model.
    assert result["items"] == 70 and result["appended"] == 10 and "model_version_id" not in result
    # Only the new items were scored (margin is pointwise); the train job's batch stays first.
    assert result["only_added"] is True and result["scored"] == 10
    assert result["batch"] == (first.result or {})["batch"]
    _assert_model_ordered(loop, 1)
    placed = _unlabeled_state(loop)[0]
    with loop.db.read() as s:
        suggested = dict(
            s.execute(select(Suggestion.item_id, Suggestion.label).where(Suggestion.item_id.in_(new))).all()
        )
    assert set(suggested) == set(new)
    assert sum(suggested[i] == t for i, t in zip(new, truth, strict=True)) >= 8

    # A score job now reuses those features and that model, nothing retrained, and rescores the
    # whole pool: it may pick another batch (from 70 items), but every other item keeps the
    # order the new items were placed in.
    records.create(loop.db, "score", project_id=loop.project)
    [score] = loop.run_jobs()
    assert score.state == "done" and "retrained" not in (score.result or {}), score.error
    assert "only_added" not in (score.result or {}) and (score.result or {})["scored"] == 50
    assert [v.id for v in training.list_models(loop.db, loop.project).versions] == [1]
    rescored = _unlabeled_state(loop)[0]
    batches = set(result["batch"]) | set((score.result or {})["batch"])

    def order(priorities: dict[int, float]) -> list[int]:
        return sorted(set(priorities) - batches, key=lambda i: (-priorities[i], i))

    assert order(placed) == order(rescored)
    assert set(new) - batches  # some new items are compared


@pytest.mark.parametrize(("added", "version"), [(10, 1), (20, 2)])
def test_a_score_job_after_new_items_scores_them_or_retrains_instead_of_a_cold_start(
    loop: Loop, added: int, version: int
) -> None:
    """Without automatic retraining nothing is queued on adding; a score job then featurizes them.

    A few items (10 on 60) are appended and scored by the current model; many
    (20 on 60, over ``REFIT_GROWTH``) fit the featurizer again and retrain.
    """
    loop.label(loop.ids[:20])
    [first] = loop.run_jobs()
    assert first.state == "done", first.error
    update = LoopSettingsUpdate(auto_retrain=False)
    loop_settings.update_loop_settings(loop.db, loop.project, None, update)
    texts, _ = make_texts(added, seed=5)
    new = items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
    assert records.list_jobs(loop.db, project_id=loop.project, state="queued") == []

    records.create(loop.db, "score", project_id=loop.project)
    [score] = loop.run_jobs()
    assert score.state == "done", score.error
    result = score.result or {}
    if version == 1:
        assert "retrained" not in result and "model_version_id" not in result
    else:
        assert result["retrained"] == "the features were made again" and result["model_version_id"] == 2
    _assert_model_ordered(loop, version)
    _, versions = _unlabeled_state(loop)
    assert all(versions[i] == version for i in new)


def test_adding_items_before_any_model_queues_nothing(loop: Loop) -> None:
    """Before the first model the first train job featurizes everything; adding queues no job."""
    texts, _ = make_texts(4, seed=9)
    items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
    assert records.list_jobs(loop.db, project_id=loop.project) == []


def test_an_image_uploaded_after_a_model_gets_a_suggestion(db: Database, settings: Settings) -> None:
    d = make_digit_project(db, settings, 30)
    project, user, store, ids, truth = d.project, d.user, d.store, d.ids, d.truth
    label_train_and_suggest(db, settings, project, user, truth, ids[:16])

    upload = items.add_image(
        db, store, project, user, digit_png(d.images[30]), filename="30.png", limits=ItemLimits()
    )
    [waiting] = records.list_jobs(db, project_id=project, state="queued")
    assert waiting.kind == "featurize"
    claimed = records.claim(db)
    assert claimed is not None and claimed.id == waiting.id
    JobRunner(db, settings, builtin_jobs()).run_claimed(claimed)
    done = records.get(db, waiting.id)
    assert done.state == "done", done.error
    assert (done.result or {})["appended"] == 1 and "model_version_id" not in (done.result or {})
    with db.read() as s:
        row = s.get(Suggestion, upload)
    assert row is not None and row.model_version_id == 1
    assert row.label == str(d.targets[30])


def test_concurrent_additions_queue_one_featurize_job(loop: Loop) -> None:
    """Four writers adding items at once after a model: no deadlock, no error, one waiting job."""
    import threading

    loop.label(loop.ids[:20])
    [first] = loop.run_jobs()
    assert first.state == "done", first.error
    texts, _ = make_texts(20, seed=11)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def add(k: int) -> None:
        try:
            start.wait()
            for t in texts[k * 5 : k * 5 + 5]:
                items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t)], ItemLimits())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    waiting = records.list_jobs(loop.db, project_id=loop.project, state="queued")
    assert [j.kind for j in waiting] == ["featurize"]
    [job] = loop.run_jobs()
    assert job.state == "done" and (job.result or {})["items"] == 80, job.error


class _Counted:
    """The real text transform, counting the texts it is given (how many items were transformed)."""

    def __init__(self) -> None:
        self.texts = 0
        self.real = feature_service._transform_texts

    def __call__(self, args: tuple[object, list[str]]) -> object:
        self.texts += len(args[1])
        return self.real(args)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> _Counted:
    wrapper = _Counted()
    monkeypatch.setattr(feature_service, "_transform_texts", wrapper)
    return wrapper


def _trained(loop: Loop) -> feature_service.FeatureBundle:
    """Label 20 items and run the train job: model version 1 on features of the 60 items."""
    loop.label(loop.ids[:20])
    [first] = loop.run_jobs()
    assert first.state == "done", first.error
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None and bundle.fitted_items == 60
    return bundle


def _add(loop: Loop, n: int, seed: int) -> tuple[list[int], list[str], dict[str, object]]:
    """Add ``n`` texts through the service behind ``POST /items``, run the featurize job it queues."""
    texts, _ = make_texts(n, seed=seed)
    new = items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
    [job] = loop.run_jobs()
    assert job.kind == "featurize" and job.state == "done", job.error
    return new, texts, job.result or {}


def test_adding_items_transforms_only_them_and_the_current_model_scores_them(
    loop: Loop, counted: _Counted
) -> None:
    before = _trained(loop)
    old_X = _dense(before.X)
    counted.texts = 0
    new, texts, result = _add(loop, 5, seed=21)
    assert counted.texts == 5  # not the 60 stored ones
    assert result["appended"] == 5 and result["items"] == 65

    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None
    assert bundle.generation == before.generation and bundle.fitted_items == 60
    assert bundle.featurizer is before.featurizer and bundle.X.shape[1] == before.X.shape[1]
    assert bundle.ids.tolist() == sorted(loop.ids + new)
    # Old rows unchanged; each new row is the stored featurizer's transform of that item's text.
    assert np.allclose(_dense(bundle.X[bundle.positions(loop.ids)]), old_X)
    again = before.featurizer.transform(texts)
    assert np.allclose(_dense(bundle.X[bundle.positions(new)]), _dense(again), rtol=1e-5, atol=1e-6)
    # On disk: the base is untouched, one chunk holds just the 5 new rows, no temporary file.
    path = feature_service.feature_path(loop.settings, loop.project, bundle.key)
    base = joblib.load(path)
    assert base["ids"].tolist() == before.ids.tolist() and base["fitted_items"] == 60
    [chunk] = [p for p in path.parent.iterdir() if p != path]
    assert chunk.name == f"{bundle.key}.{base['base']}.000001.chunk.joblib"
    assert joblib.load(chunk)["ids"].tolist() == new and joblib.load(chunk)["X"].shape[0] == 5
    # What another process reads from disk: the same rows.
    feature_store._cache.clear()
    reread = feature_service.load_features(loop.settings, loop.project, bundle.key)
    assert reread is not None and reread.ids.tolist() == bundle.ids.tolist() and reread.chunks == 1
    assert np.allclose(_dense(reread.X), _dense(bundle.X))

    assert [v.id for v in training.list_models(loop.db, loop.project).versions] == [1]
    _assert_model_ordered(loop, 1)
    with loop.db.read() as s:
        suggested = dict(
            s.execute(
                select(Suggestion.item_id, Suggestion.model_version_id).where(Suggestion.item_id.in_(new))
            ).all()
        )
    assert suggested == dict.fromkeys(new, 1)


def test_a_large_addition_fits_the_featurizer_again_and_retrains(loop: Loop, counted: _Counted) -> None:
    before = _trained(loop)
    allowed = int(60 * (1 + feature_service.REFIT_GROWTH))
    assert allowed == 72
    counted.texts = 0
    first, _, result = _add(loop, allowed - 60, seed=22)  # 72 items: still appended
    assert counted.texts == 12 and result["appended"] == 12
    counted.texts = 0
    # One more makes 73 items, over 20% more than the 60 the featurizer was fitted on.
    second, _, result = _add(loop, 1, seed=23)
    assert counted.texts == 73 and result["appended"] is None and result["model_version_id"] == 2
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None and bundle.generation != before.generation and bundle.fitted_items == 73
    assert bundle.ids.tolist() == sorted(loop.ids + first + second)
    _assert_model_ordered(loop, 2)


def test_a_changed_featurizer_fits_again(loop: Loop, counted: _Counted) -> None:
    from hitloop.db.tables import Project

    before = _trained(loop)
    with loop.db.write() as s:
        project = s.get(Project, loop.project)
        assert project is not None
        project.settings = {**(project.settings or {}), "featurizer": "tfidf"}
    counted.texts = 0
    _, _, result = _add(loop, 2, seed=24)
    assert counted.texts == 62 and result["appended"] is None and result["model_version_id"] == 2
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None and bundle.key != before.key and bundle.key.startswith("tfidf-")
    assert bundle.generation != before.generation
    _assert_model_ordered(loop, 2)


@pytest.mark.parametrize("position", [30, -1])
def test_stored_features_of_a_deleted_item_fit_again(loop: Loop, counted: _Counted, position: int) -> None:
    """A deleted item in the middle, or the last one (SQLite then gives its id to the next item)."""
    before = _trained(loop)
    gone = loop.ids[position]  # unlabeled: only its suggestion refers to it
    with loop.db.write() as s:
        s.execute(delete(Suggestion).where(Suggestion.item_id == gone))
        s.execute(delete(Item).where(Item.id == gone))
    counted.texts = 0
    new, _, result = _add(loop, 2, seed=25)
    assert counted.texts == 61 and result["appended"] is None and result["model_version_id"] == 2
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None and bundle.generation != before.generation
    assert bundle.ids.tolist() == sorted([i for i in loop.ids if i != gone] + new)
    _assert_model_ordered(loop, 2)


def test_an_older_item_appearing_as_another_is_deleted_fits_again(loop: Loop, counted: _Counted) -> None:
    """An import finishing (its staged item has an id below the stored ones') while a stored item is
    deleted: the count of items up to the last stored id is unchanged, their id checksums are not."""
    from sqlalchemy import update

    from hitloop.types import ItemState

    before = _trained(loop)
    texts, _ = make_texts(3, seed=26)
    [staged] = items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=texts[0])], ItemLimits())
    with loop.db.write() as s:  # as an unfinished import leaves it
        s.execute(update(Item).where(Item.id == staged).values(state=ItemState.STAGED.value))
    counted.texts = 0
    later, _, result = _add(loop, 2, seed=27)
    assert later[0] > staged and result["appended"] == 2 and counted.texts == 2
    gone = loop.ids[30]
    with loop.db.write() as s:
        s.execute(delete(Suggestion).where(Suggestion.item_id == gone))
        s.execute(delete(Item).where(Item.id == gone))
        s.execute(update(Item).where(Item.id == staged).values(state=ItemState.OPEN.value))
    counted.texts = 0
    last, _, result = _add(loop, 1, seed=28)
    assert result["appended"] is None and result["model_version_id"] == 2 and counted.texts == 63
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None and bundle.generation != before.generation
    assert bundle.ids.tolist() == sorted([i for i in loop.ids if i != gone] + [staged] + later + last)


def test_items_with_ids_past_two_billion_are_appended(loop: Loop, counted: _Counted) -> None:
    """The stored ids' checksums (id squared) must not overflow PostgreSQL's 32-bit ids."""
    from sqlalchemy import text

    from hitloop.types import ItemState

    _trained(loop)
    big = 2_000_000_000
    with loop.db.write() as s:
        if loop.db.is_sqlite:  # the next id is one past the highest: a staged (invisible) item there
            s.add(
                Item(
                    id=big - 1,
                    project_id=loop.project,
                    text="x",
                    state=ItemState.STAGED.value,
                    created_at=0.0,
                )
            )
        else:
            s.execute(text("SELECT setval(pg_get_serial_sequence('items', 'id'), :v)"), {"v": big - 1})
    first, _, result = _add(loop, 3, seed=29)
    assert min(first) >= big and result["appended"] == 3
    counted.texts = 0
    second, _, result = _add(loop, 2, seed=30)  # the check now sums squares of ids past 2e9
    assert result["appended"] == 2 and result["only_added"] is True and counted.texts == 2
    bundle = feature_service.up_to_date(loop.db, loop.settings, loop.project)
    assert bundle is not None and bundle.ids[-5:].tolist() == first + second
