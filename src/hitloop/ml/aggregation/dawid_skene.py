"""Dawid–Skene: one full confusion matrix per worker, fitted by EM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray
from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.counts import ItemSums, normalize_rows, posterior_from_log
from hitloop.ml.aggregation.em import EMTrace, run_em
from hitloop.ml.aggregation.majority import majority_vote

__all__ = ["DawidSkene", "DawidSkeneParams", "dawid_skene"]


@dataclass(frozen=True)
class DawidSkeneParams:
    """Class priors, shape (n_classes,), and confusions ``[worker, true, answered]``."""

    priors: FloatArray
    confusions: FloatArray


def dawid_skene(
    table: AnswerTable,
    *,
    init_proba: FloatArray | None = None,
    smoothing: float = 0.01,
    prior_correct: float = 0.1,
    shrinkage: float = 0.0,
    tol: float = 1e-6,
    max_iter: int = 200,
) -> EMTrace[DawidSkeneParams]:
    """Fit the Dawid–Skene model by EM.

    Each worker ``w`` has a confusion matrix ``C[w, k, l] = P(answer l | true k)``.
    The M-step estimates it as the posterior mean under a Dirichlet prior whose
    pseudo-counts are ``smoothing`` on every cell, plus ``prior_correct`` on the
    diagonal, plus ``shrinkage`` times the pooled confusion of all workers
    (an empirical-Bayes pull of sparse workers toward the crowd).

    Parameters
    ----------
    table : AnswerTable
    init_proba : ndarray, shape (n_items, n_classes), optional
        Initial item posteriors; defaults to majority-vote shares.
    smoothing : float
        Laplace pseudo-count per confusion cell and per class prior.
    prior_correct : float
        Extra pseudo-count on the diagonal: a prior belief that workers are
        right. Without it, a worker whose only answers are on items nobody else
        answered is explained as a spammer and those answers count for nothing.
    shrinkage : float
        Strength (in pseudo-answers per true class) of the pooled-confusion prior.
    tol, max_iter
        Stop when the log-likelihood gains less than ``tol`` per item.

    Returns
    -------
    EMTrace[DawidSkeneParams]
        ``proba`` of shape (n_items, n_classes) and the fitted parameters.

    References
    ----------
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer
    error-rates using the EM algorithm", Applied Statistics 28(1), 1979.
    """
    for name, value in (("smoothing", smoothing), ("prior_correct", prior_correct), ("shrinkage", shrinkage)):
        if value < 0:
            raise ValueError(f"{name} must be non-negative")
    k = table.n_classes
    sums = ItemSums(table)
    pseudo = np.full((k, k), smoothing) + prior_correct * np.eye(k)
    flat_index = table.worker * k + table.label

    def m_step(proba: FloatArray) -> DawidSkeneParams:
        counts = sums.confusion_counts(proba)
        prior = pseudo
        if shrinkage > 0:
            prior = pseudo + shrinkage * normalize_rows(counts.sum(axis=0))
        confusions = normalize_rows(counts + prior)
        priors = normalize_rows(proba.sum(axis=0) + smoothing)
        return DawidSkeneParams(priors, confusions)

    def e_step(params: DawidSkeneParams) -> tuple[FloatArray, float]:
        with np.errstate(divide="ignore"):
            log_conf = np.log(params.confusions)  # [w, true, answered]
            log_prior = np.log(params.priors)
        # per answer: log P(answer | true class k) for every k
        per_answer = log_conf.transpose(0, 2, 1).reshape(-1, k)[flat_index]
        return posterior_from_log(log_prior + sums.per_item(per_answer))

    if init_proba is None:
        init_proba, _ = majority_vote(table)
    return run_em(init_proba, m_step, e_step, tol=tol, max_iter=max_iter)


class DawidSkene(Aggregator):
    """Dawid–Skene aggregation: a full confusion matrix per worker, EM from majority vote.

    Parameters
    ----------
    smoothing : float, default=0.01
        Laplace pseudo-count added to every confusion cell and class prior.
    prior_correct : float, default=0.1
        Extra diagonal pseudo-count (a Dirichlet prior that workers are right);
        0 gives the classic maximum-likelihood model.
    shrinkage : float, default=0.0
        Pull of each worker's confusion toward the pooled crowd confusion.
    tol : float, default=1e-6
        Convergence threshold on the log-likelihood gain per item.
    max_iter : int, default=200

    Attributes
    ----------
    confusions_ : ndarray, shape (n_workers, n_classes, n_classes)
        ``confusions_[w, k, l]`` = P(worker w answers l | true class k).
    priors_ : ndarray, shape (n_classes,)
    n_iter_ : int
    log_likelihood_ : float

    References
    ----------
    Dawid & Skene, Applied Statistics 28(1), 1979.
    """

    def __init__(
        self,
        smoothing: float = 0.01,
        prior_correct: float = 0.1,
        shrinkage: float = 0.0,
        tol: float = 1e-6,
        max_iter: int = 200,
    ) -> None:
        self.smoothing = smoothing
        self.prior_correct = prior_correct
        self.shrinkage = shrinkage
        self.tol = tol
        self.max_iter = max_iter

    def _fit(self, table: AnswerTable, **fit_params: Any) -> tuple[FloatArray, FloatArray]:
        trace = dawid_skene(
            table,
            smoothing=self.smoothing,
            prior_correct=self.prior_correct,
            shrinkage=self.shrinkage,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self.confusions_ = trace.params.confusions
        self.priors_ = trace.params.priors
        self.n_iter_ = trace.n_iter
        self.log_likelihood_ = trace.log_likelihood
        diag = np.diagonal(trace.params.confusions, axis1=1, axis2=2)
        return trace.proba, diag @ trace.params.priors
