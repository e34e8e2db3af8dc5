"""The model loop over HTTP: train on demand, jobs, models, loop settings, suggestions and lineage."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.loop.conftest import make_texts


def _wait(api: Any, job_id: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def _labeled_project(api: Any, n_labels: int = 12) -> tuple[int, list[dict[str, Any]]]:
    project = api.post("/api/projects", json={"name": "r", "labels": ["pos", "neg"]}).json()["id"]
    texts, truth = make_texts(40)
    ids = api.post(f"/api/projects/{project}/items", json={"items": [{"text": t} for t in texts]}).json()[
        "item_ids"
    ]
    by_id = dict(zip(ids, truth, strict=True))
    for i in ids[:n_labels]:
        served = api.post(f"/api/projects/{project}/next", json={"count": 1}).json()["items"]
        assert [it["id"] for it in served] == [i]  # a first answer needs the item served
        r = api.post(
            f"/api/items/{i}/annotations", json={"value": {"label": by_id[i]}, "client_key": f"label-key-{i}"}
        )
        assert r.status_code == 201, r.text
    return project, [{"id": i, "truth": by_id[i]} for i in ids]


def test_train_on_demand_then_models_jobs_and_suggestions(api: Any) -> None:
    project, _ = _labeled_project(api)
    r = api.post(f"/api/projects/{project}/train")
    assert r.status_code == 202, r.text
    job = r.json()
    again = api.post(f"/api/projects/{project}/train")  # one train job per project at a time
    if again.status_code == 200:
        assert again.json()["id"] == job["id"]
    done = _wait(api, job["id"])
    assert done["state"] == "done", done["error"]
    assert done["result"]["n_train"] == 12 and done["result"]["executor"] == "threads"

    models = api.get(f"/api/projects/{project}/models").json()
    assert models["versions"][0]["n_train"] == 12
    assert models["learning_curve"][0]["n_train"] == 12
    assert set(models["stopping"]) == {"accuracy", "changed", "gain", "advice"}
    assert any(j["id"] == job["id"] for j in models["jobs"])
    listed = api.get(f"/api/projects/{project}/jobs", params={"state": "done"}).json()
    assert job["id"] in [j["id"] for j in listed]

    item = api.post(f"/api/projects/{project}/next", json={"count": 1}).json()["items"][0]
    suggestion = item["suggestion"]
    assert suggestion["label"] in ("pos", "neg") and 0 < suggestion["confidence"] <= 1
    assert suggestion["model_version_id"] == models["versions"][0]["id"]
    assert suggestion["explanation"]["words"]
    shown = {
        "value": suggestion["value"],
        "model_version_id": suggestion["model_version_id"],
        "preselected": True,
    }
    r = api.post(
        f"/api/items/{item['id']}/annotations",
        json={"value": suggestion["value"], "client_key": "accept-key-1", "shown": shown},
    )
    assert r.status_code == 201, r.text


def block_runner(ctx: Any, project: int) -> int:
    """Mark a job of the project "running" (heartbeat fresh), so the runner takes no other job of it."""
    from hitloop.db.tables import Job
    from hitloop.jobs import records

    blocker = records.create(ctx.db, "no-such-kind", project_id=project)
    with ctx.db.write() as s:
        row = s.get(Job, blocker.id)
        row.state = "running"
        row.heartbeat_at = time.time() + 3600
    return blocker.id


def test_cancel_and_rerun(api: Any, ctx: Any) -> None:
    project, _ = _labeled_project(api, n_labels=0)
    # Queue work the runner cannot take yet: another job of the project is "running".
    blocker = block_runner(ctx, project)
    from hitloop.db.tables import Job

    queued = api.post(f"/api/projects/{project}/jobs", json={"kind": "score"}).json()
    assert queued["state"] == "queued"
    cancelled = api.post(f"/api/jobs/{queued['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    twice = api.post(f"/api/jobs/{queued['id']}/cancel")
    assert twice.status_code == 409
    with ctx.db.write() as s:
        s.get(Job, blocker).state = "failed"
    rerun = api.post(f"/api/jobs/{queued['id']}/rerun")
    assert rerun.status_code == 202
    done = _wait(api, rerun.json()["id"])
    assert done["kind"] == "score" and done["state"] == "done", done["error"]
    assert done["args"] == {"rerun_of": queued["id"]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"kind": "score", "args": {"x": 1}},
            "args.x",
            "a score job has no argument 'x'; it takes no arguments",
        ),
        (
            {"kind": "transcribe", "args": {"limt": 5}},
            "args.limt",
            "a transcribe job has no argument 'limt'; it takes redo, limit",
        ),
        ({"kind": "transcribe", "args": {"limit": 0}}, "args.limit", "limit must be a positive integer"),
        ({"kind": "transcribe", "args": {"redo": "yes"}}, "args.redo", "redo must be true or false"),
        (
            {"kind": "faces", "args": {"params": 3}},
            "args.params",
            "params must be an object of detector parameters",
        ),
        ({"kind": "faces", "args": []}, "args", "Input should be a valid dictionary"),
    ],
    ids=["no-args-kind", "unknown-arg", "bad-limit", "bad-redo", "bad-params", "args-not-object"],
)
def test_bad_job_arguments_are_refused_before_queueing(
    api: Any, body: dict[str, Any], field: str, message: str
) -> None:
    project, _ = _labeled_project(api, n_labels=0)
    before = api.get(f"/api/projects/{project}/jobs").json()
    r = api.post(f"/api/projects/{project}/jobs", json=body)
    assert r.status_code == 422
    assert (r.json()["error"]["field"], r.json()["error"]["message"]) == (field, message)
    assert api.get(f"/api/projects/{project}/jobs").json() == before


def test_bad_requests_get_precise_errors(api: Any) -> None:
    project, _ = _labeled_project(api, n_labels=0)
    r = api.patch(f"/api/projects/{project}/loop", json={"strategy": "smallest-margin"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "strategy"
    assert "unknown strategy 'smallest-margin'" in r.json()["error"]["message"]
    r = api.patch(f"/api/projects/{project}/loop", json={"retrain_every": 0})
    assert r.status_code == 422 and r.json()["error"]["field"] == "retrain_every"
    assert api.get(f"/api/projects/{project}/loop").json()["strategy"] == "diverse-margin"
    r = api.post(f"/api/projects/{project}/jobs", json={"kind": "mine-bitcoin"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"
    assert api.get("/api/jobs/999").status_code == 404
    assert api.post("/api/projects/999/train").status_code == 404
    assert api.get("/api/projects/999/models").status_code == 404
    ok = api.patch(f"/api/projects/{project}/loop", json={"strategy": "margin", "retrain_every": 50})
    assert ok.status_code == 200 and ok.json()["retrain_every"] == 50


def test_a_failed_training_is_visible_with_its_message(api: Any) -> None:
    project = api.post("/api/projects", json={"name": "r", "labels": ["pos", "neg"]}).json()["id"]
    ids = api.post(
        f"/api/projects/{project}/items", json={"items": [{"text": "a b"}, {"text": "c d"}]}
    ).json()["item_ids"]
    api.post(
        f"/api/items/{ids[0]}/annotations", json={"value": {"label": "pos"}, "client_key": "one-class-1"}
    )
    job = api.post(f"/api/projects/{project}/train").json()
    failed = _wait(api, job["id"])
    assert failed["state"] == "failed"
    assert "at least two classes" in failed["error"]


def test_items_posted_after_a_model_get_suggestions_from_a_retrained_model(api: Any, ctx: Any) -> None:
    from sqlalchemy import select

    from hitloop.db.tables import Item, Suggestion

    project, labeled = _labeled_project(api)
    first = _wait(api, api.post(f"/api/projects/{project}/train").json()["id"])
    assert first["state"] == "done", first["error"]
    texts, _ = make_texts(10, seed=3)
    r = api.post(f"/api/projects/{project}/items", json={"items": [{"text": t} for t in texts]})
    assert r.status_code == 201, r.text
    new = r.json()["item_ids"]
    [featurize] = [j for j in api.get(f"/api/projects/{project}/jobs").json() if j["kind"] == "featurize"]
    done = _wait(api, featurize["id"])
    assert done["state"] == "done", done["error"]
    version = done["result"]["model_version_id"]
    assert version == first["result"]["model_version_id"] + 1
    models = api.get(f"/api/projects/{project}/models").json()
    assert [v["id"] for v in models["versions"]] == [version, version - 1]

    unlabeled = [i["id"] for i in labeled[12:]] + new
    with ctx.db.read() as s:
        versions = dict(
            s.execute(
                select(Suggestion.item_id, Suggestion.model_version_id).where(
                    Suggestion.item_id.in_(unlabeled)
                )
            ).all()
        )
        priorities = dict(s.execute(select(Item.id, Item.priority).where(Item.id.in_(unlabeled))).all())
    assert versions == dict.fromkeys(unlabeled, version)
    assert all(version < p <= version + 1 for p in priorities.values())
    served = api.post(f"/api/projects/{project}/next", json={"count": 3}).json()["items"]
    assert [i["id"] for i in served] == sorted(unlabeled, key=lambda i: (-priorities[i], i))[:3]
    assert all(i["suggestion"]["model_version_id"] == version for i in served)
