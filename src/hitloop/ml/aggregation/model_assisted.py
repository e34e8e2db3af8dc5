"""Model-assisted consensus: a classifier's probabilities count as one more, weighted, rater."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray, IntArray
from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.counts import normalize_rows, vote_counts
from hitloop.ml.aggregation.majority import majority_vote

__all__ = ["CrowdlabWeights", "ModelAssisted", "crowdlab_consensus"]

_EPS = 1e-6


@dataclass(frozen=True)
class CrowdlabWeights:
    """The weights behind a model-assisted consensus.

    ``model`` is the model's weight, ``workers`` each worker's (shape
    (n_workers,)), and ``answer_accuracy`` the probability mass a single
    answer puts on its own label.
    """

    model: float
    workers: FloatArray
    answer_accuracy: float


def _check_pred_probs(pred_probs: npt.ArrayLike | None, table: AnswerTable) -> FloatArray:
    if pred_probs is None:
        raise ValueError("pred_probs is required")
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != table.n_classes or probs.shape[0] < table.n_items:
        raise ValueError(
            f"pred_probs must have shape (n_items, n_classes) = ({table.n_items}, {table.n_classes}), "
            f"got {probs.shape}"
        )
    probs = probs[: table.n_items]
    if not np.all(np.isfinite(probs)) or probs.min() < 0:
        raise ValueError("pred_probs must be finite and non-negative")
    return normalize_rows(probs)


def _weights(table: AnswerTable, consensus: IntArray, pred_probs: FloatArray) -> CrowdlabWeights:
    n_per_item = np.bincount(table.item, minlength=table.n_items)
    votes = vote_counts(table)
    # How often would always answering the commonest consensus class be wrong? Errors are scaled by this.
    answered = n_per_item > 0
    share = np.bincount(consensus[answered], minlength=table.n_classes) / max(int(answered.sum()), 1)
    baseline_error = max(1.0 - float(share.max()), _EPS)

    # Each answer's agreement with the *other* answers on its item (items with 2+ answers only).
    others = n_per_item[table.item] - 1
    agree_others = votes[table.item, table.label] - 1
    shared = others > 0
    if shared.any():
        per_answer = np.where(shared, agree_others / np.maximum(others, 1), 0.0)
        n_shared = np.bincount(table.worker[shared], minlength=table.n_workers)
        summed = np.bincount(table.worker, per_answer, minlength=table.n_workers)
        # a worker who never shared an item gets the crowd's average agreement
        mean_agreement = float(per_answer[shared].mean())
        agreement: FloatArray = np.where(n_shared > 0, summed / np.maximum(n_shared, 1), mean_agreement)
    else:
        mean_agreement = 1.0
        agreement = np.ones(table.n_workers)
    workers = np.clip(1.0 - (1.0 - agreement) / baseline_error, _EPS, None)

    # check_answers guarantees at least one answered item
    model_error = float(np.mean(pred_probs[answered].argmax(axis=1) != consensus[answered]))
    mean_answers = float(n_per_item[answered].mean())
    model = max(1.0 - model_error / baseline_error, _EPS) * float(np.sqrt(max(mean_answers, 1.0)))
    return CrowdlabWeights(model=model, workers=workers, answer_accuracy=min(max(mean_agreement, _EPS), 1.0))


def crowdlab_consensus(
    table: AnswerTable, pred_probs: FloatArray, *, n_rounds: int = 2
) -> tuple[FloatArray, CrowdlabWeights]:
    """Weighted average of the model's probabilities and each answer, weights fitted against consensus.

    Each answer becomes a distribution putting the crowd's average agreement
    on its label and the rest evenly on the other classes. The model's and each
    worker's weight is ``1 - error / baseline_error``, where error is measured
    against the current consensus (for workers: disagreement with the other
    answers on shared items) and ``baseline_error`` is the error of always
    answering the commonest class; the model's weight is also scaled by the
    square root of the mean answers per item. The consensus starts as the
    majority vote and is re-estimated ``n_rounds`` times.

    Parameters
    ----------
    table : AnswerTable
    pred_probs : ndarray, shape (n_items, n_classes)
        The model's out-of-sample class probabilities per item.
    n_rounds : int
        Rounds of re-weighting against the new consensus.

    Returns
    -------
    proba : ndarray, shape (n_items, n_classes)
    weights : CrowdlabWeights

    References
    ----------
    H. W. Goh, U. Tkachenko and J. Mueller, "CROWDLAB: Supervised learning to
    infer consensus labels and quality scores for data with multiple
    annotators", arXiv:2210.06812, 2022.
    """
    if n_rounds < 1:
        raise ValueError("n_rounds must be at least 1")
    k = table.n_classes
    mv_proba, consensus = majority_vote(table)
    # majority-vote ties go to the model's preferred class
    tied = np.isclose(mv_proba, mv_proba.max(axis=1, keepdims=True))
    consensus = np.argmax(np.where(tied, pred_probs + 1.0, 0.0), axis=1).astype(np.intp)
    proba = pred_probs
    weights = _weights(table, consensus, pred_probs)
    for _ in range(n_rounds):
        acc = weights.answer_accuracy
        off = (1.0 - acc) / (k - 1) if k > 1 else 0.0
        w_answer = weights.workers[table.worker]
        # sum_j w_j * onehot_smoothed(label_j) = off * sum_j w_j + (acc - off) * weighted votes
        weighted_votes = vote_counts(table, w_answer)
        total = weighted_votes.sum(axis=1, keepdims=True)
        answer_mass = off * total + (acc - off) * weighted_votes
        proba = (weights.model * pred_probs + answer_mass) / (weights.model + total)
        consensus = np.argmax(proba, axis=1).astype(np.intp)
        weights = _weights(table, consensus, pred_probs)
    return normalize_rows(proba), weights


class ModelAssisted(Aggregator):
    """Model-assisted consensus in the spirit of CROWDLAB: the model is one more rater.

    ``fit(answers, pred_probs=...)`` needs the model's class probabilities per
    item, ideally out-of-fold (see :func:`hitloop.ml.label_errors.out_of_fold_proba`).
    The model's weight is learned from its agreement with the crowd's
    consensus, so a useless model gets a weight near zero.

    Parameters
    ----------
    n_rounds : int, default=2
        Rounds of re-weighting against the updated consensus.

    Attributes
    ----------
    model_weight_ : float
    worker_weights_ : ndarray, shape (n_workers,)
    skills_ : ndarray, shape (n_workers,)
        Each worker's agreement with the final consensus.

    References
    ----------
    Goh, Tkachenko & Mueller, arXiv:2210.06812, 2022.
    """

    uses_model = True

    def __init__(self, n_rounds: int = 2) -> None:
        self.n_rounds = n_rounds

    def _fit(
        self, table: AnswerTable, pred_probs: npt.ArrayLike | None = None, **fit_params: Any
    ) -> tuple[FloatArray, FloatArray]:
        probs = _check_pred_probs(pred_probs, table)
        proba, weights = crowdlab_consensus(table, probs, n_rounds=self.n_rounds)
        self.model_weight_ = weights.model
        self.worker_weights_ = weights.workers
        labels = proba.argmax(axis=1)
        agree = (labels[table.item] == table.label).astype(np.float64)
        n = np.bincount(table.worker, minlength=table.n_workers)
        skills = np.bincount(table.worker, agree, minlength=table.n_workers) / np.maximum(n, 1)
        return proba, skills
