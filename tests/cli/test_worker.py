"""``hitloop worker`` as a real process, and a server that runs no jobs (``job_threads = 0``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hitloop.api import create_app
from hitloop.api.context import AppContext
from hitloop.db.engine import Database
from hitloop.jobs import records
from hitloop.media.store import MediaStore
from hitloop.schemas import AnnotationIn, ItemIn, JobOut, ProjectCreate
from hitloop.services import annotations, auth, items, projects, retrain
from hitloop.services.items import ItemLimits
from hitloop.settings import Settings
from tests.cli.conftest import Run
from tests.loop.conftest import make_texts


def _labeled_project(db: Database, n_items: int = 30, n_labels: int = 10) -> int:
    user = auth.create_user(db, "ann", "ann-password").id
    p = projects.create_project(db, user, ProjectCreate(name="w", labels=["pos", "neg"])).id
    texts, truth = make_texts(n_items)
    ids = items.add_items(db, p, user, [ItemIn(text=t) for t in texts], ItemLimits())
    for i, label in list(zip(ids, truth, strict=True))[:n_labels]:
        annotations.submit(db, user, i, AnnotationIn(value={"label": label}, client_key=f"worker-key-{i}"))
    return p


def _wait_until_ended(db: Database, job_id: int, proc: subprocess.Popen[str], timeout: float) -> JobOut:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = records.get(db, job_id)
        if job.state in records.FINISHED:
            return job
        assert proc.poll() is None, f"the worker exited ({proc.returncode}) with job {job_id} {job.state}"
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is still {records.get(db, job_id).state} after {timeout} s")


def test_a_worker_process_runs_queued_jobs_and_stops_cleanly_on_sigterm(
    tmp_path: Path, own_database_url: str
) -> None:
    db = Database(own_database_url)
    try:
        project = _labeled_project(db)
        env = {
            **os.environ,
            "HITLOOP_DATA_DIR": str(tmp_path / "data"),
            "HITLOOP_DATABASE_URL": own_database_url,
            "HITLOOP_JOB_THREADS": "0",  # the server's setting; the worker then runs the default 2
        }
        cmd = [sys.executable, "-c", "from hitloop.cli import main; main()", "worker"]
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # blocks until the runner has started
            assert first.startswith("hitloop worker is running jobs on 2 threads from "), first
            # Queued after the worker started, by another process's connection: found by polling.
            job, created = retrain.request_training(db, project, None)
            assert created
            ended = _wait_until_ended(db, job.id, proc, timeout=30)
            assert ended.state == records.DONE, ended.error
            assert ended.result is not None
            assert ended.result["model_version_id"] == 1
            assert ended.result["n_train"] == 10
            assert ended.result["scored"] == 20
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert out == "hitloop worker stopped.\n"
        assert "SIGTERM received, stopping" in err
        assert "Traceback" not in err
    finally:
        db.dispose()


def test_an_app_with_no_job_threads_leaves_queued_jobs_to_a_worker(settings: Settings, db: Database) -> None:
    no_jobs = settings.model_copy(update={"job_threads": 0})
    ctx = AppContext(settings=no_jobs, db=db, media=MediaStore(no_jobs.media_dir))
    project = _labeled_project(db)
    admin = auth.create_user(db, "admin", "admin-password", is_admin=True)
    token = auth.create_token(db, admin.id, "test")[1]
    app = create_app(context=ctx)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        assert app.state.jobs is None
        queued = client.post(f"/api/projects/{project}/train", json={})
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        time.sleep(1.5)  # longer than a runner's poll interval (1 s)
        assert client.get(f"/api/jobs/{job_id}").json()["state"] == "queued"
        # What the model panel shows: the job waiting, and no model yet.
        assert [(j["id"], j["state"]) for j in client.get(f"/api/projects/{project}/jobs").json()] == [
            (job_id, "queued")
        ]
        assert client.get(f"/api/projects/{project}/models").json()["versions"] == []
    assert records.get(db, job_id).state == records.QUEUED


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--threads", "0"], {}, "Invalid value for '--threads': 0 is not in the range 1<=x<=64."),
        (
            [],
            {"HITLOOP_JOB_THREADS": "-1"},
            "field 'HITLOOP_JOB_THREADS': invalid setting: Input should be greater than or equal to 0",
        ),
    ],
    ids=["threads-option", "threads-setting"],
)
def test_bad_thread_counts_are_refused_before_starting(
    run: Run, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run("worker", *args, expect=2)
    assert message in result.stderr
    assert "running" not in result.stdout
