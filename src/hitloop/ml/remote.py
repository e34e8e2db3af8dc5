"""A learner that lives behind an HTTP endpoint: the user's own model, in any language.

hitloop POSTs JSON to two paths under ``url`` (protocol version 1, described
in docs/ml.md):

``POST {url}/fit`` (only when ``train=True``)
    ``{"protocol": 1, "classes": [...], "labels": [...], "sample_weight": [...],
    "features": ... | "texts": [...]}``, the labeled rows only, in one request.
    Answer: a JSON object; its optional ``"model"`` string is sent back with
    every prediction (a version id of the trained model).
``POST {url}/predict_proba``
    ``{"protocol": 1, "classes": [...], "model": str | null, "features": ... |
    "texts": [...]}``, at most ``batch_size`` rows per request. Answer:
    ``{"probabilities": [[...], ...]}``, one row per input row, one column per
    class in the order of ``classes``, non-negative, each row summing to 1.

Rows go as ``"texts"`` when X is a sequence of strings, else as
``"features"``: a list of rows of numbers for a dense matrix, or
``{"n_features": d, "indices": [[...], ...], "values": [[...], ...]}`` for a
sparse one. Every failure (unreachable endpoint, timeout, HTTP error status,
an answer that is not JSON or does not fit the protocol) raises
:class:`RemoteModelError` with the URL and what was wrong.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any, Self

import httpx
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from hitloop.ml.learners import labeled_mask

__all__ = ["PROTOCOL_VERSION", "RemoteLearner", "RemoteModelError"]

PROTOCOL_VERSION = 1
_SUM_TOLERANCE = 1e-3


class RemoteModelError(RuntimeError):
    """The remote model could not be reached or answered outside the protocol."""


def _is_texts(X: Any) -> bool:
    if isinstance(X, str):
        raise TypeError("expected a sequence of texts or a feature matrix, got a single string")
    if sp.issparse(X):
        return False
    if isinstance(X, np.ndarray):
        return X.dtype.kind in "OUS"
    return isinstance(X, Sequence) and len(X) > 0 and all(isinstance(x, str) for x in X)


def _n_rows(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _rows(X: Any, rows: slice | NDArray[np.intp]) -> dict[str, Any]:
    """The protocol's input field for these rows of X."""
    if _is_texts(X):
        items = np.asarray(X, dtype=object)[rows]
        return {"texts": [str(t) for t in items]}
    if sp.issparse(X):
        block = sp.csr_matrix(X[rows])
        indptr = block.indptr
        return {
            "features": {
                "n_features": int(block.shape[1]),
                "indices": [block.indices[a:b].tolist() for a, b in itertools.pairwise(indptr)],
                "values": [block.data[a:b].tolist() for a, b in itertools.pairwise(indptr)],
            }
        }
    dense = np.asarray(X, dtype=np.float64)
    if dense.ndim != 2:
        raise ValueError(f"features must be 2-D (n_items, n_features), got shape {dense.shape}")
    block = dense[rows]
    if not np.isfinite(block).all():
        raise ValueError("features contain NaN or infinite values")
    return {"features": block.tolist()}


def _jsonable(values: NDArray[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]


class RemoteLearner(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A learner whose model runs behind an HTTP endpoint (the JSON protocol in the module docstring).

    Parameters
    ----------
    url : str
        Base URL; hitloop POSTs to ``{url}/fit`` and ``{url}/predict_proba``.
    classes : sequence or None
        The project's full class list, sent with every request; the answer's
        columns follow it. None: the classes present in ``y`` at fit time.
    train : bool
        False for an already trained model: ``fit`` only records the classes
        and sends nothing.
    batch_size : int
        Rows per ``predict_proba`` request.
    timeout : float
        Seconds allowed to connect, to send and to wait for each answer.
    token_env : str or None
        Name of an environment variable holding a token sent as
        ``Authorization: Bearer <token>``; read at call time, never stored.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : str or None
        The ``"model"`` id the endpoint returned from ``fit``.
    """

    def __init__(
        self,
        url: str = "",
        classes: Any = None,
        train: bool = True,
        batch_size: int = 256,
        timeout: float = 10.0,
        token_env: str | None = None,
    ) -> None:
        self.url = url
        self.classes = classes
        self.train = train
        self.batch_size = batch_size
        self.timeout = timeout
        self.token_env = token_env

    # ------------------------------------------------------------------ transport

    def _check_params(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (isinstance(self.timeout, int | float) and self.timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")

    def _headers(self) -> dict[str, str]:
        if self.token_env is None:
            return {}
        token = os.environ.get(self.token_env)
        if not token:
            raise RemoteModelError(
                f"the environment variable {self.token_env} (the model's token) is not set"
            )
        return {"Authorization": f"Bearer {token}"}

    def _post(self, client: httpx.Client, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        endpoint = f"{self.url.rstrip('/')}/{path}"
        try:
            response = client.post(endpoint, json=body)
        except httpx.TimeoutException:
            raise RemoteModelError(
                f"the model at {endpoint} did not answer {what} within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise RemoteModelError(f"cannot reach the model at {endpoint}: {exc}") from None
        if response.status_code >= 400:
            snippet = response.text[:200].strip()
            raise RemoteModelError(
                f"the model at {endpoint} answered {what} with HTTP {response.status_code}"
                + (f": {snippet}" if snippet else "")
            )
        try:
            answer = response.json()
        except ValueError:
            raise RemoteModelError(
                f"the model at {endpoint} answered {what} with invalid JSON: {response.text[:100]!r}"
            ) from None
        if not isinstance(answer, dict):
            raise RemoteModelError(
                f"the model at {endpoint} answered {what} with JSON {type(answer).__name__}, not an object"
            )
        return answer

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(float(self.timeout)), headers=self._headers())

    # ------------------------------------------------------------------ estimator

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        """Send the labeled rows to ``{url}/fit`` (unless ``train=False``); returns self."""
        self._check_params()
        y = np.asarray(y)
        if len(y) != _n_rows(X):
            raise ValueError(f"X has {_n_rows(X)} rows but y has {len(y)} labels")
        labeled = np.flatnonzero(labeled_mask(y))
        seen = np.unique(y[labeled]) if len(labeled) else np.empty(0)
        if self.classes is None:
            self.classes_ = seen
        else:
            self.classes_ = np.asarray(list(self.classes))
            unknown = sorted({str(v) for v in seen.tolist()} - {str(c) for c in self.classes_.tolist()})
            if unknown:
                raise ValueError(f"labels not in classes: {', '.join(unknown[:5])}")
        if len(self.classes_) < 2:
            raise ValueError("a remote learner needs at least two classes")
        self.model_: str | None = None
        if not self.train:
            return self
        if len(np.unique(y[labeled])) < 2:
            raise ValueError("training needs labels of at least two classes")
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        body = {
            "protocol": PROTOCOL_VERSION,
            "classes": _jsonable(self.classes_),
            "labels": _jsonable(y[labeled]),
            "sample_weight": w[labeled].tolist(),
            **_rows(X, labeled),
        }
        with self._client() as client:
            answer = self._post(client, "fit", body, f"the training request ({len(labeled)} rows)")
        model = answer.get("model")
        if model is not None and not isinstance(model, str):
            raise RemoteModelError(f'the model at {self.url}/fit answered a non-string "model": {model!r}')
        self.model_ = model
        return self

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities from ``{url}/predict_proba``, shape (n_items, len(classes_))."""
        check_is_fitted(self, "classes_")
        self._check_params()
        n = _n_rows(X)
        n_classes = len(self.classes_)
        out = np.empty((n, n_classes))
        n_batches = max(1, math.ceil(n / self.batch_size))
        with self._client() as client:
            for b, start in enumerate(range(0, n, self.batch_size), 1):
                rows = slice(start, min(n, start + self.batch_size))
                body = {
                    "protocol": PROTOCOL_VERSION,
                    "classes": _jsonable(self.classes_),
                    "model": self.model_,
                    **_rows(X, rows),
                }
                what = f"batch {b} of {n_batches}"
                answer = self._post(client, "predict_proba", body, what)
                out[rows] = self._probabilities(answer, rows.stop - rows.start, n_classes, what)
        return out

    def _probabilities(
        self, answer: dict[str, Any], n: int, n_classes: int, what: str
    ) -> NDArray[np.float64]:
        where = f"the model at {self.url.rstrip('/')}/predict_proba ({what})"
        if "probabilities" not in answer:
            raise RemoteModelError(f'{where} answered without "probabilities"')
        raw = answer["probabilities"]
        if not isinstance(raw, list) or len(raw) != n:
            got = len(raw) if isinstance(raw, list) else type(raw).__name__
            raise RemoteModelError(f"{where} answered {got} probability rows for {n} items")
        try:
            P = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise RemoteModelError(f"{where} answered probabilities that are not rows of numbers") from None
        if P.shape != (n, n_classes):
            raise RemoteModelError(
                f"{where} answered probabilities of shape {P.shape}, expected ({n}, {n_classes}):"
                " one column per class, in the order sent"
            )
        if not np.isfinite(P).all() or (P < 0).any():
            raise RemoteModelError(f"{where} answered negative, NaN or infinite probabilities")
        sums = P.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOLERANCE)
        if len(bad):
            raise RemoteModelError(
                f"{where} answered a row summing to {sums[bad[0]]:.4g}, not 1 (row {bad[0]})"
            )
        return np.asarray(P / sums[:, None])

    def predict(self, X: Any) -> NDArray[Any]:
        """The most probable class of each row, shape (n_items,)."""
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])
