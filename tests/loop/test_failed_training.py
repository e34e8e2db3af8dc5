"""A train job whose learner fails leaves no model version and keeps the last model's queue.

The project first gets a working model (version 1, its suggestions and
order); a second training then fails in the learner's fit, in its
predict_proba, or at a model behind an HTTP endpoint (a real server on the
loopback interface) that times out or answers 503.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from hitloop import plugins
from hitloop.db.tables import Item, ModelVersion, Suggestion
from hitloop.ml.learners import LogisticLearner
from hitloop.schemas import LoopSettingsUpdate
from hitloop.services import loop_settings, queue, retrain, training
from tests.loop.conftest import Loop


class FailingLearner(LogisticLearner):
    """The logistic learner, made to raise in ``fail_in`` ("fit" or "predict_proba")."""

    def __init__(
        self,
        classes: Any = None,
        C: float = 10.0,
        class_weight: str | None = "balanced",
        calibrate: bool = True,
        solver: str = "newton-cg",
        max_iter: int = 1000,
        fail_in: str = "",
    ) -> None:
        super().__init__(classes, C, class_weight, calibrate, solver, max_iter)
        self.fail_in = fail_in

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FailingLearner:
        if self.fail_in == "fit":
            raise KeyError("weights")
        super().fit(X, y, sample_weight=sample_weight)
        return self

    def predict_proba(self, X: Any) -> Any:
        # The cross-validation's folds predict through decision_function; the pool through this.
        if self.fail_in == "predict_proba":
            raise RuntimeError("the GPU went away")
        return super().predict_proba(X)


class _Plugin:
    @plugins.hookimpl
    def hitloop_learners(self) -> dict[str, object]:
        return {"failing-test": FailingLearner}


@pytest.fixture
def failing_plugin() -> Iterator[object]:
    plugin = _Plugin()
    plugins.register(plugin, name="failing-test")
    yield plugin
    plugins.plugin_manager().unregister(plugin)


Behaviour = Callable[[str, dict[str, Any]], tuple[int, bytes]]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        status, payload = self.server.behaviour(self.path, body)  # type: ignore[attr-defined]
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ModelServer:
    """A model endpoint on 127.0.0.1 that answers the cross-validation, then fails on the pool.

    It trains nothing (every prediction is 50/50); what matters is when it
    fails: ``fail`` ("fit", "predict-timeout", "predict-503") takes effect
    with the last fit (all labeled rows) or the predictions after it.
    """

    def __init__(self, fail: str, n_labels: int) -> None:
        self.fail = fail
        self.n_labels = n_labels
        self.full_fit = False
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.behaviour = self.handle  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/model"

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if path.endswith("/fit"):
            self.full_fit = len(body["labels"]) == self.n_labels
            if self.full_fit and self.fail == "fit-503":
                return 503, b'{"detail": "model server is restarting"}'
            return 200, b'{"model": "m1"}'
        if self.full_fit and self.fail == "predict-timeout":
            self.release.wait(10)
            return 200, b"{}"
        if self.full_fit and self.fail == "predict-503":
            return 503, b'{"detail": "overloaded"}'
        n = len(body["features"]["indices"])
        return 200, json.dumps({"probabilities": [[0.5, 0.5]] * n}).encode()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _state(loop: Loop) -> tuple[dict[int, float], dict[int, tuple[Any, ...]]]:
    with loop.db.read() as s:
        priorities = dict(
            s.execute(select(Item.id, Item.priority).where(Item.project_id == loop.project)).all()
        )
        suggestions = {
            r.item_id: (r.model_version_id, r.label, r.confidence, r.created_at)
            for r in s.scalars(select(Suggestion).where(Suggestion.project_id == loop.project))
        }
    return priorities, suggestions


def _first_model(loop: Loop) -> tuple[dict[int, float], dict[int, tuple[Any, ...]]]:
    """Version 1 from 20 labels; the project's priorities and suggestions after it."""
    loop.label(loop.ids[:20])
    [job] = loop.run_jobs()
    assert job.state == "done", job.error
    assert (job.result or {})["model_version_id"] == 1
    return _state(loop)


def _second_training_fails(loop: Loop, learner: str, params: dict[str, Any]) -> Any:
    update = LoopSettingsUpdate(learner=learner, learner_params=params)
    loop_settings.update_loop_settings(loop.db, loop.project, None, update)
    loop.label(loop.ids[20:40])  # the 40th label queues the second train job
    jobs = loop.run_jobs()
    assert [j.kind for j in jobs] == ["train"]
    return jobs[0]


def _assert_version_1_serves(loop: Loop, before: tuple[dict[int, float], dict[int, tuple[Any, ...]]]) -> None:
    assert _state(loop) == before
    models = training.list_models(loop.db, loop.project)
    assert [v.id for v in models.versions] == [1]
    assert [p.model_version_id for p in models.learning_curve] == [1]
    with loop.db.read() as s:
        assert s.scalars(select(ModelVersion.id)).all() == [1]
    models_dir = loop.settings.models_dir / str(loop.project)
    assert sorted(p.name for p in models_dir.iterdir()) == ["job-1.joblib"]  # no orphaned model file
    priorities = before[0]
    expected = sorted(loop.ids[40:], key=lambda i: (-priorities[i], i))[:5]
    served = queue.next_items(loop.db, loop.project, loop.user, count=5)
    assert [i.id for i in served] == expected
    assert all(i.suggestion is not None and i.suggestion.model_version_id == 1 for i in served)
    # The next training finds 20 labels since version 1's watermark, as before the failure.
    assert retrain.retrain_due(loop.db, loop.project)


@pytest.mark.parametrize(
    ("fail_in", "message"),
    [
        (
            "fit",
            "field 'learner': the learner 'failing-test' (FailingLearner) failed while training on 40 labels:"
            " KeyError: 'weights'",
        ),
        (
            "predict_proba",
            "field 'learner': the learner 'failing-test' (FailingLearner) failed while scoring 60 items:"
            " RuntimeError: the GPU went away",
        ),
    ],
    ids=["fit", "predict_proba"],
)
def test_a_plugin_learner_that_fails_leaves_no_version(
    loop: Loop, failing_plugin: object, fail_in: str, message: str
) -> None:
    before = _first_model(loop)
    job = _second_training_fails(loop, "failing-test", {"fail_in": fail_in})
    assert job.state == "failed"
    assert job.error == message
    _assert_version_1_serves(loop, before)


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        (
            "predict-timeout",
            "failed while scoring 60 items: the model at {url}/predict_proba did not answer batch 1 of 1"
            " within 0.5 s",
        ),
        (
            "predict-503",
            "failed while scoring 60 items: the model at {url}/predict_proba answered batch 1 of 1"
            ' with HTTP 503: {{"detail": "overloaded"}}',
        ),
        (
            "fit-503",
            "failed while training on 40 labels: the model at {url}/fit answered the training request"
            ' (40 rows) with HTTP 503: {{"detail": "model server is restarting"}}',
        ),
    ],
    ids=["predict-timeout", "predict-503", "fit-503"],
)
def test_a_remote_model_that_times_out_or_answers_503_leaves_no_version(
    loop: Loop, fail: str, message: str
) -> None:
    before = _first_model(loop)
    server = ModelServer(fail, n_labels=40)
    try:
        job = _second_training_fails(loop, "remote", {"url": server.url, "timeout": 0.5})
    finally:
        server.close()
    assert job.state == "failed"
    prefix = "field 'learner': the learner 'remote' (RemoteLearner) "
    assert job.error == prefix + message.format(url=server.url)
    _assert_version_1_serves(loop, before)


def test_a_remote_model_that_answers_gives_version_2(loop: Loop) -> None:
    """The same server without a failure: the second training records version 2 (the control case)."""
    _first_model(loop)
    server = ModelServer("", n_labels=40)
    try:
        update = LoopSettingsUpdate(learner="remote", learner_params={"url": server.url, "timeout": 5.0})
        loop_settings.update_loop_settings(loop.db, loop.project, None, update)
        loop.label(loop.ids[20:40])
        [job] = loop.run_jobs()
    finally:
        server.close()
    assert job.state == "done", job.error
    result = job.result or {}
    assert result["model_version_id"] == 2
    models = training.list_models(loop.db, loop.project)
    assert [v.id for v in models.versions] == [2, 1]
    assert models.versions[0].learner == "remote" and models.versions[0].n_train == 40
    # "changed" is recorded with the version: every suggestion flipped or not, a number either way.
    assert models.versions[0].metrics["changed"] == result["changed"] is not None
    priorities, suggestions = _state(loop)
    assert {v[0] for i, v in suggestions.items() if i in loop.ids[40:]} == {2}
    assert all(2 < priorities[i] <= 3 for i in loop.ids[40:])
    assert np.isclose(max(priorities[i] for i in loop.ids[40:]), 3.0)
