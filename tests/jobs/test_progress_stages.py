"""A job's progress when one step runs inside another: the step fills its stage, the bar never jumps back."""

from __future__ import annotations

from typing import Any

import pytest

from hitloop.db.engine import Database
from hitloop.jobs import JobContext, JobRegistry, JobRunner, records
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import items, projects, retrain
from hitloop.services import jobs as job_service
from hitloop.services.items import ItemLimits
from hitloop.settings import Settings
from tests.loop.conftest import make_loop, make_texts


def test_stages_nest_and_end_where_they_began(db: Database, settings: Settings) -> None:
    project = projects.create_project(db, None, ProjectCreate(name="p", labels=["a", "b"])).id
    seen: list[float] = []

    def staged(ctx: JobContext) -> dict[str, Any]:
        def report(fraction: float) -> None:
            ctx.progress(fraction, "step", force=True)
            seen.append(records.get(ctx.db, ctx.job_id).progress)

        report(0.1)
        with ctx.stage(0.2, 0.6):
            report(0.0)
            report(0.5)
            with ctx.stage(0.5, 1.0):
                report(0.5)
            report(1.0)
        report(0.7)
        with pytest.raises(RuntimeError), ctx.stage(0.8, 0.9):
            raise RuntimeError("a failed step")
        report(0.75)  # back in the whole job's 0..1
        return {}

    registry = JobRegistry()
    registry.register("staged", staged)
    job = records.create(db, "staged", project_id=project)
    assert JobRunner(db, settings, registry).run_next(job_id=job.id)
    assert records.get(db, job.id).state == "done"
    # 0.2 + 0.5 * 0.4 = 0.4; the inner stage is 0.4..0.6, and 0.5 of it is 0.5.
    assert seen == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.75])


def test_featurizing_inside_training_stays_in_its_stage(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = make_loop(db, settings)  # its featurize job stays queued: training has to featurize
    loop.label(loop.ids[:10])
    job, _ = retrain.request_training(db, loop.project, loop.user)
    written: list[tuple[float, str]] = []
    real = records.set_progress

    def recording(db: Database, job_id: int, fraction: float, message: str) -> None:
        if job_id == job.id:
            written.append((fraction, message))
        real(db, job_id, fraction, message)

    monkeypatch.setattr(records, "set_progress", recording)
    assert loop.runner.run_next(job_id=job.id)
    assert records.get(db, job.id).state == "done"

    messages = [m for _, m in written]
    featurizing = [
        f for f, m in written if m.startswith(("fitting the featurizer", "transforming", "writing features"))
    ]
    assert len(featurizing) == 3, messages
    assert all(0.05 <= f <= 0.3 for f in featurizing), written
    # Up to training (the scoring steps are the scoring service's own), the bar only moves forward.
    until = messages.index("saving the model")
    fractions = [f for f, _ in written[: until + 1]]
    assert fractions == sorted(fractions), written


def _recorded(monkeypatch: pytest.MonkeyPatch, job_id: int) -> list[tuple[float, str]]:
    written: list[tuple[float, str]] = []
    real = records.set_progress

    def recording(db: Database, jid: int, fraction: float, message: str) -> None:
        if jid == job_id:
            written.append((fraction, message))
        real(db, jid, fraction, message)

    monkeypatch.setattr(records, "set_progress", recording)
    return written


def test_a_train_job_and_a_score_job_that_retrains_only_move_forward(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = make_loop(db, settings)
    loop.label(loop.ids[:10])
    job, _ = retrain.request_training(db, loop.project, loop.user)
    written = _recorded(monkeypatch, job.id)
    assert loop.runner.run_next(job_id=job.id)
    assert records.get(db, job.id).state == "done"
    fractions = [f for f, _ in written]
    assert fractions == sorted(fractions), written  # ranking comes before explaining, and so do their bars

    # Many new items (20 on 60, over REFIT_GROWTH) make the features stale: a score job fits the
    # featurizer again, then retrains on the new features.
    items.add_items(
        db, loop.project, loop.user, [ItemIn(text=t) for t in make_texts(20, seed=9)[0]], ItemLimits()
    )
    score = job_service.request_job(db, "score", loop.project, loop.user)
    written = _recorded(monkeypatch, score.id)
    assert loop.runner.run_next(job_id=score.id)
    done = records.get(db, score.id)
    assert done.state == "done", done.error
    assert done.result is not None and "retrained" in done.result
    fractions = [f for f, _ in written]
    assert fractions == sorted(fractions), written
    messages = [m for _, m in written]
    assert any(m.startswith("fitting the featurizer") for m in messages) and "saving the model" in messages
