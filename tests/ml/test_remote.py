"""The HTTP learner against a real HTTP server on the loopback interface, started by the test."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from hitloop.ml.remote import RemoteLearner, RemoteModelError
from hitloop.ml.simulate import simulate
from hitloop.ml.strategies import make_strategy

Behaviour = Callable[[str, dict[str, Any]], tuple[int, bytes]]


def _centroid_model() -> Behaviour:
    """A real nearest-centroid classifier over the protocol (features, sparse features or texts)."""
    state: dict[str, Any] = {}

    def dense(body: dict[str, Any]) -> np.ndarray:
        if "texts" in body:  # texts: a bag of two letters, enough to separate the test's classes
            return np.array([[t.count("a"), t.count("b")] for t in body["texts"]], dtype=float)
        features = body["features"]
        if isinstance(features, dict):
            out = np.zeros((len(features["indices"]), features["n_features"]))
            for i, (idx, val) in enumerate(zip(features["indices"], features["values"], strict=True)):
                out[i, idx] = val
            return out
        return np.array(features, dtype=float)

    def handle(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        assert body["protocol"] == 1
        if path.endswith("/fit"):
            X, y = dense(body), body["labels"]
            state["centroids"] = np.array(
                [X[[label == c for c in y]].mean(axis=0) for label in body["classes"]]
            )
            state["seen_weights"] = body["sample_weight"]
            return 200, json.dumps({"model": "v1"}).encode()
        assert body["model"] == "v1"
        distances = ((dense(body)[:, None, :] - state["centroids"][None]) ** 2).sum(axis=2)
        logits = -distances
        P = np.exp(logits - logits.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        state.setdefault("batches", []).append(len(P))
        return 200, json.dumps({"probabilities": P.tolist()}).encode()

    handle.state = state  # type: ignore[attr-defined]
    return handle


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.server.requests.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        status, payload = self.server.behaviour(self.path, body)  # type: ignore[attr-defined]
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.requests = []  # type: ignore[attr-defined]
        self.use(_centroid_model())
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/model"

    @property
    def requests(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        return self.httpd.requests  # type: ignore[attr-defined,no-any-return]

    def use(self, behaviour: Behaviour) -> None:
        self.httpd.behaviour = behaviour  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.3, (20, 3)), rng.normal(3, 0.3, (20, 3))])
    return X, np.array(["ham"] * 20 + ["spam"] * 20)


def test_fit_and_predict_over_http_in_batches(server: Server) -> None:
    X, y = _blobs()
    y_train = y.astype(object)
    y_train[5:15] = None  # unlabeled rows are not sent for training
    learner = RemoteLearner(url=server.url, classes=["ham", "spam"], batch_size=16)
    assert learner.fit(X, y_train) is learner
    assert learner.model_ == "v1"
    fit_body = server.requests[0][2]
    assert server.requests[0][0] == "/model/fit"
    assert len(fit_body["labels"]) == 30 and fit_body["classes"] == ["ham", "spam"]
    assert len(fit_body["features"]) == 30 and fit_body["sample_weight"] == [1.0] * 30
    P = learner.predict_proba(X)
    assert P.shape == (40, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert server.httpd.behaviour.state["batches"] == [16, 16, 8]  # type: ignore[attr-defined]
    assert (learner.predict(X) == y).all()


def test_sparse_features_and_texts_follow_the_protocol(server: Server) -> None:
    X, y = _blobs()
    learner = RemoteLearner(url=server.url).fit(sp.csr_matrix(X), y)
    assert set(server.requests[0][2]["features"]) == {"n_features", "indices", "values"}
    assert (learner.predict(sp.csr_matrix(X)) == y).all()
    texts = ["aaa b", "aaaa", "bbb", "a bbbb"]
    labels = ["A", "A", "B", "B"]
    text_learner = RemoteLearner(url=server.url).fit(texts, labels)
    assert server.requests[-1][2]["texts"] == texts
    assert text_learner.predict(["aaaaa", "bbbbb"]).tolist() == ["A", "B"]


def test_a_pretrained_model_is_never_sent_training_data(server: Server) -> None:
    X, y = _blobs()
    server.use(
        lambda path, body: (
            200,
            json.dumps({"probabilities": [[0.25, 0.75]] * len(body["features"])}).encode(),
        )
    )
    learner = RemoteLearner(url=server.url, classes=["ham", "spam"], train=False).fit(X, y)
    np.testing.assert_allclose(learner.predict_proba(X[:3]), [[0.25, 0.75]] * 3)
    assert [path for path, _, _ in server.requests] == ["/model/predict_proba"]


def test_the_token_comes_from_the_named_environment_variable(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = _blobs()
    learner = RemoteLearner(url=server.url, token_env="MY_MODEL_TOKEN")
    with pytest.raises(RemoteModelError, match=r"MY_MODEL_TOKEN .* is not set"):
        learner.fit(X, y)
    monkeypatch.setenv("MY_MODEL_TOKEN", "s3cret")
    learner.fit(X, y)
    assert server.requests[-1][1]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(learner.get_params())


def test_the_remote_learner_drives_a_simulation(server: Server) -> None:
    X, y = _blobs()
    result = simulate(
        X,
        y,
        learner=RemoteLearner(url=server.url),
        strategy=make_strategy("margin"),
        seed_labels=4,
        batch_size=4,
        budget=12,
        repeats=1,
    )
    assert result.accuracy[0, -1] == 1.0
    assert clone(RemoteLearner(url=server.url, timeout=2.0)).get_params()["timeout"] == 2.0


def _answer(payload: object, status: int = 200) -> Behaviour:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return lambda path, body: (200, json.dumps({}).encode()) if path.endswith("/fit") else (status, raw)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (_answer(b"<html>oops</html>"), r"predict_proba answered batch 1 of 1 with invalid JSON: '<html>"),
        (_answer([1, 2]), "with JSON list, not an object"),
        (_answer({"probs": []}), 'answered without "probabilities"'),
        (_answer({"probabilities": [[0.5, 0.5]]}), "answered 1 probability rows for 3 items"),
        (_answer({"probabilities": [[1.0], [1.0], [1.0]]}), r"shape \(3, 1\), expected \(3, 2\)"),
        (_answer({"probabilities": [["a", "b"]] * 3}), "not rows of numbers"),
        (_answer({"probabilities": [[0.5, -0.5]] * 3}), "negative, NaN or infinite"),
        (_answer({"probabilities": [[0.5, 0.6]] * 3}), "summing to 1.1, not 1 .row 0."),
        (_answer({"error": "model not loaded"}, status=503), 'HTTP 503: {"error": "model not loaded"}'),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-key",
        "few-rows",
        "few-columns",
        "strings",
        "negative",
        "sum",
        "http-503",
    ],
)
def test_bad_answers_raise_a_clear_error(server: Server, behaviour: Behaviour, message: str) -> None:
    X, y = _blobs()
    server.use(behaviour)
    learner = RemoteLearner(url=server.url).fit(X, y)
    with pytest.raises(RemoteModelError, match=message):
        learner.predict_proba(X[:3])


def test_a_slow_model_times_out_instead_of_hanging(server: Server) -> None:
    X, y = _blobs()
    release = threading.Event()

    def slow(path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        release.wait(5)
        return 200, b"{}"

    server.use(slow)
    started = time.monotonic()
    with pytest.raises(
        RemoteModelError, match=r"did not answer the training request \(40 rows\) within 0.2 s"
    ):
        RemoteLearner(url=server.url, timeout=0.2).fit(X, y)
    release.set()
    assert time.monotonic() - started < 4  # the error came from the timeout, not the server giving in


def test_an_unreachable_endpoint_and_bad_parameters_are_reported(server: Server) -> None:
    X, y = _blobs()
    port = server.httpd.server_address[1]
    server.httpd.shutdown()
    server.httpd.server_close()
    with pytest.raises(
        RemoteModelError, match=f"cannot reach the model at http://127.0.0.1:{port}/model/fit"
    ):
        RemoteLearner(url=server.url).fit(X, y)
    with pytest.raises(ValueError, match="url must start with http"):
        RemoteLearner(url="ftp://x").fit(X, y)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        RemoteLearner(url=server.url, batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="training needs labels of at least two classes"):
        RemoteLearner(url=server.url, classes=["ham", "spam"]).fit(X[:3], y[:3])
    with pytest.raises(ValueError, match="labels not in classes: spam"):
        RemoteLearner(url=server.url, classes=["ham", "eggs"]).fit(X, y)
