"""The SDK's model-loop methods against the in-process app."""

from __future__ import annotations

import pytest
from tests.loop.conftest import make_texts

from hitloop.client import Client, JobFailedError
from hitloop.errors import InputError, NotFoundError


def _project(sdk: Client, n_labels: int) -> tuple[int, list[int]]:
    project = sdk.create_project("Reviews", ["pos", "neg"]).id
    texts, truth = make_texts(30)
    ids = sdk.add_items(project, texts)
    sdk.next(project, count=n_labels)
    for i, label in list(zip(ids, truth, strict=True))[:n_labels]:
        assert [it.id for it in sdk.next(project)] == [i]
        sdk.submit(i, label=label)
    return project, ids


def test_train_wait_models_and_suggestions(sdk: Client) -> None:
    project, _ = _project(sdk, n_labels=10)
    job = sdk.train(project, wait=True, timeout=60)
    assert job.state == "done" and job.result is not None and job.result["n_train"] == 10
    models = sdk.models(project)
    assert models.versions[0].n_train == 10 and models.learning_curve[0].n_train == 10
    assert [j.id for j in sdk.jobs(project, state="done")] == [job.id]
    item = sdk.next(project)[0]
    assert item.suggestion is not None and item.suggestion.label in ("pos", "neg")
    shown = {"value": item.suggestion.value, "model_version_id": item.suggestion.model_version_id}
    answer = sdk.submit(item.id, label=item.suggestion.label, shown={**shown, "preselected": True})
    assert not answer.replayed


def test_loop_settings_and_failed_jobs(sdk: Client) -> None:
    project, _ = _project(sdk, n_labels=1)
    assert sdk.loop_settings(project).strategy == "diverse-margin"
    assert sdk.update_loop_settings(project, strategy="entropy", retrain_every=5).retrain_every == 5
    with pytest.raises(InputError, match="unknown learner 'forest'") as caught:
        sdk.update_loop_settings(project, learner="forest")
    assert caught.value.field == "learner"
    with pytest.raises(JobFailedError, match="at least two classes") as failed:
        sdk.train(project, wait=True, timeout=60)
    assert failed.value.job.state == "failed"
    rerun = sdk.rerun_job(failed.value.job.id)
    assert rerun.kind == "train"
    with pytest.raises(NotFoundError):
        sdk.job(999)


def test_start_job_passes_the_kinds_options(sdk: Client) -> None:
    project, _ = _project(sdk, n_labels=1)
    before = sdk.jobs(project)
    with pytest.raises(InputError, match="a score job has no argument 'redo'") as caught:
        sdk.start_job(project, "score", redo=True)
    assert caught.value.field == "args.redo" and sdk.jobs(project) == before
    job = sdk.start_job(project, "transcribe", redo=True, limit=2)
    assert (job.kind, job.args) == ("transcribe", {"redo": True, "limit": 2})
    assert sdk.start_job(project, "featurize").args == {}
