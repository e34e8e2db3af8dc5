"""One-coin Dawid–Skene: one accuracy per worker, errors spread evenly over the other classes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray
from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.counts import ItemSums, normalize_rows, posterior_from_log
from hitloop.ml.aggregation.em import EMTrace, run_em
from hitloop.ml.aggregation.majority import majority_vote

__all__ = ["OneCoinDawidSkene", "OneCoinParams", "one_coin_dawid_skene", "one_coin_log_likelihood"]


@dataclass(frozen=True)
class OneCoinParams:
    """Class priors, shape (n_classes,), and worker accuracies, shape (n_workers,)."""

    priors: FloatArray
    accuracies: FloatArray


def one_coin_log_likelihood(table: AnswerTable, correct: FloatArray) -> FloatArray:
    """Per-answer ``log P(answer | true class k)`` when answer ``a`` is right with probability ``correct[a]``.

    Parameters
    ----------
    table : AnswerTable
    correct : ndarray, shape (n_answers,)
        Probability that each answer is correct; wrong answers are uniform over the other classes.

    Returns
    -------
    ndarray, shape (n_answers, n_classes)
    """
    k = table.n_classes
    if k == 1:
        return np.zeros((table.n_answers, 1))
    correct = np.clip(correct, 1e-12, 1 - 1e-12)
    wrong = np.log1p(-correct) - np.log(k - 1)
    out = np.repeat(wrong[:, None], k, axis=1)
    out[np.arange(table.n_answers), table.label] = np.log(correct)
    return out


def one_coin_dawid_skene(
    table: AnswerTable,
    *,
    smoothing: float = 0.01,
    prior_correct: float = 0.1,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> EMTrace[OneCoinParams]:
    """Fit the one-coin model by EM, starting from majority-vote shares.

    Worker ``w`` answers the true class with probability ``p_w`` and each other
    class with probability ``(1 - p_w) / (n_classes - 1)``. The M-step sets
    ``p_w`` to the worker's expected share of correct answers, with
    ``smoothing`` pseudo-answers right and wrong and ``prior_correct`` more
    right ones (without them, a worker whose only answers are on items nobody
    else answered can be explained as always wrong).

    Returns
    -------
    EMTrace[OneCoinParams]

    References
    ----------
    Dawid & Skene 1979 (restricted to one parameter per worker); as "ZenCrowd"
    in G. Demartini et al., "ZenCrowd", WWW 2012.
    """
    if smoothing < 0 or prior_correct < 0:
        raise ValueError("smoothing and prior_correct must be non-negative")
    sums = ItemSums(table)
    n_answers = np.bincount(table.worker, minlength=table.n_workers)

    def m_step(proba: FloatArray) -> OneCoinParams:
        right = np.bincount(table.worker, proba[table.item, table.label], minlength=table.n_workers)
        pseudo = 2 * smoothing + prior_correct
        accuracies = (right + smoothing + prior_correct) / np.maximum(n_answers + pseudo, 1e-12)
        # a worker with no answers (an unused code) gets an uninformative accuracy
        accuracies = np.where(n_answers + pseudo > 0, accuracies, 1.0 / table.n_classes)
        return OneCoinParams(normalize_rows(proba.sum(axis=0) + smoothing), accuracies)

    def e_step(params: OneCoinParams) -> tuple[FloatArray, float]:
        per_answer = one_coin_log_likelihood(table, params.accuracies[table.worker])
        with np.errstate(divide="ignore"):
            log_prior = np.log(params.priors)
        return posterior_from_log(log_prior + sums.per_item(per_answer))

    init, _ = majority_vote(table)
    return run_em(init, m_step, e_step, tol=tol, max_iter=max_iter)


class OneCoinDawidSkene(Aggregator):
    """One-coin Dawid–Skene: one accuracy per worker, fitted by EM from majority vote.

    Parameters
    ----------
    smoothing : float, default=0.01
        Pseudo-answers added both right and wrong to each worker's tally.
    prior_correct : float, default=0.1
        Extra right pseudo-answers: a weak prior that workers beat chance.
    tol : float, default=1e-6
    max_iter : int, default=200

    Attributes
    ----------
    accuracies_ : ndarray, shape (n_workers,)
        Estimated probability that each worker answers correctly (also ``skills_``).
    priors_ : ndarray, shape (n_classes,)
    n_iter_ : int

    References
    ----------
    Dawid & Skene, Applied Statistics 28(1), 1979; Demartini et al., WWW 2012.
    """

    def __init__(
        self, smoothing: float = 0.01, prior_correct: float = 0.1, tol: float = 1e-6, max_iter: int = 200
    ) -> None:
        self.smoothing = smoothing
        self.prior_correct = prior_correct
        self.tol = tol
        self.max_iter = max_iter

    def _fit(self, table: AnswerTable, **fit_params: Any) -> tuple[FloatArray, FloatArray]:
        trace = one_coin_dawid_skene(
            table,
            smoothing=self.smoothing,
            prior_correct=self.prior_correct,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self.accuracies_ = trace.params.accuracies
        self.priors_ = trace.params.priors
        self.n_iter_ = trace.n_iter
        return trace.proba, trace.params.accuracies
