"""Jobs a person queues, cancels or re-runs leave audit events, written with the change itself."""

from __future__ import annotations

from typing import Any

from hitloop.db.tables import Job
from tests.api.test_loop_api import _wait, block_runner


def _job_events(api: Any, project: int) -> list[tuple[str, str | None, dict[str, Any], str | None]]:
    events = api.get(f"/api/projects/{project}/audit").json()["events"]
    return [
        (e["action"], e["object_id"], e["detail"], e["username"])
        for e in reversed(events)
        if e["action"].startswith("job.")
    ]


def test_request_cancel_and_rerun_are_audited(api: Any, ctx: Any) -> None:
    project = api.post("/api/projects", json={"name": "r", "labels": ["pos", "neg"]}).json()["id"]
    blocker = block_runner(ctx, project)  # keeps the runner off the job we queue
    queued = api.post(f"/api/projects/{project}/jobs", json={"kind": "score"}).json()
    assert api.post(f"/api/jobs/{queued['id']}/cancel").status_code == 200
    assert api.post(f"/api/jobs/{queued['id']}/cancel").status_code == 409  # refused: nothing recorded
    with ctx.db.write() as s:
        s.get(Job, blocker).state = "failed"
    rerun = api.post(f"/api/jobs/{queued['id']}/rerun").json()
    _wait(api, rerun["id"])
    train = api.post(f"/api/projects/{project}/train").json()
    _wait(api, train["id"])
    train_again = api.post(f"/api/jobs/{train['id']}/rerun").json()
    _wait(api, train_again["id"])

    assert _job_events(api, project) == [
        ("job.request", str(queued["id"]), {"kind": "score"}, "admin"),
        ("job.cancel", str(queued["id"]), {"kind": "score"}, "admin"),
        ("job.rerun", str(rerun["id"]), {"kind": "score", "rerun_of": queued["id"]}, "admin"),
        ("job.request", str(train["id"]), {"kind": "train"}, "admin"),
        ("job.rerun", str(train_again["id"]), {"kind": "train", "rerun_of": train["id"]}, "admin"),
    ]
    assert train_again["args"] == {"reason": "requested", "rerun_of": train["id"]}
