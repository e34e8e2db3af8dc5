"""The base class of every aggregator: the learned state they all expose."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray, IntArray, check_answers

__all__ = ["Aggregator"]


class Aggregator(BaseEstimator):  # type: ignore[misc]
    """Turns many answers per item into one consensus label per item.

    Subclasses implement ``_fit(table)`` (``_fit(table, pred_probs=...)`` when
    ``uses_model``) returning the posterior
    ``proba`` of shape (n_items, n_classes) and per-worker ``skills`` of shape
    (n_workers,); this class validates the input and stores the state.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_items,)
        Consensus class code per item.
    proba_ : ndarray of float, shape (n_items, n_classes)
        Posterior over classes per item; rows sum to 1.
    confidence_ : ndarray of float, shape (n_items,)
        ``proba_`` of the consensus label.
    skills_ : ndarray of float, shape (n_workers,)
        Each worker's estimated probability of answering correctly.
    n_items_, n_workers_, n_classes_ : int
    """

    #: True when ``fit`` needs ``pred_probs``, a model's class probabilities per item.
    uses_model: ClassVar[bool] = False

    labels_: IntArray
    proba_: FloatArray
    confidence_: FloatArray
    skills_: FloatArray
    n_items_: int
    n_workers_: int
    n_classes_: int

    def fit(
        self,
        answers: npt.ArrayLike,
        *,
        n_classes: int | None = None,
        pred_probs: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit on an ``(n_answers, 3)`` table of ``item, worker, label`` codes.

        Parameters
        ----------
        answers : array-like of int, shape (n_answers, 3)
            See :func:`hitloop.ml.aggregation.encode_answers` for values that
            are not codes yet.
        n_classes : int, optional
            Number of classes; defaults to the largest label code plus one.
        pred_probs : array-like of float, shape (n_items, n_classes), optional
            A model's class probabilities per item; required when ``uses_model``
            is true and refused otherwise.

        Returns
        -------
        self
        """
        table = check_answers(answers, n_classes)
        name = type(self).__name__
        if self.uses_model:
            if pred_probs is None:
                raise ValueError(f"{name} needs pred_probs, a model's class probabilities per item")
            proba, skills = self._fit(table, pred_probs=pred_probs)
        else:
            if pred_probs is not None:
                raise ValueError(f"{name} does not use pred_probs")
            proba, skills = self._fit(table)
        self.n_items_ = table.n_items
        self.n_workers_ = table.n_workers
        self.n_classes_ = table.n_classes
        self.proba_ = proba
        # ties go to the lower class code: deterministic, and what other tools do
        self.labels_ = np.argmax(proba, axis=1).astype(np.intp)
        self.confidence_ = proba[np.arange(table.n_items), self.labels_]
        self.skills_ = skills
        return self

    def fit_predict(
        self,
        answers: npt.ArrayLike,
        *,
        n_classes: int | None = None,
        pred_probs: npt.ArrayLike | None = None,
    ) -> IntArray:
        """Fit, then return ``labels_``."""
        return self.fit(answers, n_classes=n_classes, pred_probs=pred_probs).labels_

    def _fit(self, table: AnswerTable, **fit_params: Any) -> tuple[FloatArray, FloatArray]:
        raise NotImplementedError
