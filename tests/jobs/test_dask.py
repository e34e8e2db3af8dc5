"""The Dask executor against a real local cluster of two worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hitloop.db.engine import Database
from hitloop.jobs import DaskMapper, JobRunner, records
from hitloop.services.jobs import builtin_jobs
from hitloop.settings import Settings
from tests.loop.conftest import Loop, make_loop

distributed = pytest.importorskip("distributed")


@pytest.fixture
def loop(db: Database, settings: Settings) -> Loop:
    return make_loop(db, settings)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",  # a free port: two test runs at once must not clash on 8787
        scheduler_port=0,
        silence_logs=40,
    ) as c:
        yield c


def test_featurize_and_scoring_chunks_run_on_the_workers(
    loop: Loop, cluster: Any, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitloop.services import features, scoring

    # Small chunks so both workers get some (60 items: 6 featurize chunks, 3 + 2 when scoring).
    monkeypatch.setattr(features, "CHUNK", 10)
    monkeypatch.setattr(scoring, "CHUNK", 20)
    dask_settings = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        dask_scheduler=cluster.scheduler_address,
    )
    runner = JobRunner(db, dask_settings, builtin_jobs())
    assert isinstance(runner.mapper, DaskMapper)
    try:
        loop.runner = runner
        records.create(db, "featurize", project_id=loop.project)
        [featurized] = loop.run_jobs()
        assert featurized.state == "done", featurized.error
        assert featurized.result["executor"] == "dask"
        # Six chunks went to the workers (both, unless one was still starting).
        assert featurized.result["chunks"] == 6 and featurized.result["workers"] in (1, 2)
        loop.label(loop.ids[:20])
        [trained] = loop.run_jobs()
        assert trained.state == "done", trained.error
        # Three prediction chunks, two explanation chunks (the 40 unlabeled items).
        assert trained.result["chunks"] == 5 and trained.result["accuracy"] >= 0.8
        # Items added: the workers transform them (one chunk) and the model scores them alone
        # (one chunk); the train job's suggestions stay as written.
        from hitloop.schemas import ItemIn
        from hitloop.services import items
        from hitloop.services.items import ItemLimits
        from tests.loop.conftest import make_texts

        texts, _ = make_texts(3, seed=41)
        items.add_items(db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
        [added] = loop.run_jobs()
        assert added.kind == "featurize" and added.state == "done", added.error
        assert added.result["executor"] == "dask" and added.result["chunks"] == 2
        assert added.result["appended"] == 3 and added.result["only_added"] is True
    finally:
        runner.mapper.close()

    # The same work on threads gives the same suggestions.
    from sqlalchemy import select

    from hitloop.db.tables import Suggestion

    with db.read() as s:
        on_dask = dict(s.execute(select(Suggestion.item_id, Suggestion.label)).all())
    assert len(on_dask) == 43
    local = JobRunner(db, settings, builtin_jobs())
    loop.runner = local
    records.create(db, "score", project_id=loop.project)
    [rescored] = loop.run_jobs()
    assert rescored.result["executor"] == "threads"
    with db.read() as s:
        assert dict(s.execute(select(Suggestion.item_id, Suggestion.label)).all()) == on_dask


def test_an_unreachable_scheduler_fails_the_job_with_its_address(
    loop: Loop, db: Database, settings: Settings
) -> None:
    bad = Settings(
        data_dir=settings.data_dir, database_url=settings.database_url, dask_scheduler="tcp://127.0.0.1:9"
    )
    loop.runner = JobRunner(db, bad, builtin_jobs())
    loop.runner.mapper = DaskMapper("tcp://127.0.0.1:9", timeout_s=1.0)
    records.create(db, "featurize", project_id=loop.project)
    [job] = loop.run_jobs()
    assert job.state == "failed"
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in (job.error or "")
