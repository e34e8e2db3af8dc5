"""GLAD: worker ability and item difficulty, fitted by EM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray
from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.counts import ItemSums, normalize_rows, posterior_from_log
from hitloop.ml.aggregation.em import EMTrace, run_em
from hitloop.ml.aggregation.majority import majority_vote
from hitloop.ml.aggregation.one_coin import one_coin_log_likelihood

__all__ = ["GLAD", "GLADParams", "glad"]


@dataclass(frozen=True)
class GLADParams:
    """Class priors, worker abilities ``alpha`` and item log-easiness ``log_beta``."""

    priors: FloatArray
    alpha: FloatArray
    log_beta: FloatArray


def glad(
    table: AnswerTable,
    *,
    alpha_prior: float = 1.0,
    log_beta_prior: float = 1.0,
    prior_strength: float = 1.0,
    fit_class_prior: bool = False,
    tol: float = 1e-6,
    max_iter: int = 100,
    m_step_iter: int = 3,
) -> EMTrace[GLADParams]:
    """Fit GLAD by EM, with block Fisher-scoring steps as the M-step.

    Worker ``w`` answers item ``i`` correctly with probability
    ``sigmoid(alpha_w * beta_i)``, ``beta_i = exp(log_beta_i) > 0``; wrong
    answers are uniform over the other classes. Gaussian priors
    ``alpha ~ N(alpha_prior, 1/prior_strength)`` and
    ``log_beta ~ N(log_beta_prior, 1/prior_strength)`` keep sparse workers and
    items sane. Each M-step takes ``m_step_iter`` Newton-like steps on all
    abilities, then on all easinesses (each a one-dimensional problem given
    the other block), which is much cheaper than a generic optimiser.

    Parameters
    ----------
    table : AnswerTable
    alpha_prior, log_beta_prior, prior_strength : float
    fit_class_prior : bool
        Estimate class priors by EM; the paper (and crowd-kit) keep them uniform,
        which on skewed data partly offsets errors that favour the common class.
    tol, max_iter, m_step_iter

    Returns
    -------
    EMTrace[GLADParams]

    References
    ----------
    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma and J. Movellan, "Whose vote
    should count more: optimal integration of labels from labelers of unknown
    expertise", NeurIPS 2009.
    """
    if prior_strength <= 0:
        raise ValueError("prior_strength must be positive")
    if m_step_iter < 1:
        raise ValueError("m_step_iter must be at least 1")
    sums = ItemSums(table)
    w, i = table.worker, table.item
    n_w, n_i, k = table.n_workers, table.n_items, table.n_classes
    lam = prior_strength
    state = {"alpha": np.full(n_w, alpha_prior), "log_beta": np.full(n_i, log_beta_prior)}

    def m_step(proba: FloatArray) -> GLADParams:
        q = proba[i, table.label]  # posterior that each answer is correct
        alpha, log_beta = state["alpha"], state["log_beta"]
        for _ in range(m_step_iter):
            beta = np.exp(log_beta)[i]
            s = expit(alpha[w] * beta)
            grad = np.bincount(w, (q - s) * beta, minlength=n_w) - lam * (alpha - alpha_prior)
            info = np.bincount(w, s * (1 - s) * beta**2, minlength=n_w) + lam
            alpha = alpha + np.clip(grad / info, -1.0, 1.0)
            z = alpha[w] * beta
            s = expit(z)
            grad = np.bincount(i, (q - s) * z, minlength=n_i) - lam * (log_beta - log_beta_prior)
            info = np.bincount(i, s * (1 - s) * z**2, minlength=n_i) + lam
            log_beta = log_beta + np.clip(grad / info, -1.0, 1.0)
        state["alpha"], state["log_beta"] = alpha, log_beta
        priors = normalize_rows(proba.sum(axis=0) + 1.0) if fit_class_prior else np.full(k, 1.0 / k)
        return GLADParams(priors, alpha, log_beta)

    def e_step(params: GLADParams) -> tuple[FloatArray, float]:
        correct = expit(params.alpha[w] * np.exp(params.log_beta[i]))
        per_answer = one_coin_log_likelihood(table, correct)
        return posterior_from_log(np.log(params.priors) + sums.per_item(per_answer))

    init, _ = majority_vote(table)
    return run_em(init, m_step, e_step, tol=tol, max_iter=max_iter)


class GLAD(Aggregator):
    """GLAD: each answer is right with probability ``sigmoid(ability × easiness)``.

    Parameters
    ----------
    alpha_prior : float, default=1.0
        Prior mean of worker ability.
    log_beta_prior : float, default=1.0
        Prior mean of item log-easiness.
    prior_strength : float, default=1.0
        Precision of both Gaussian priors.
    fit_class_prior : bool, default=False
        Estimate class priors instead of keeping them uniform.
    tol : float, default=1e-6
    max_iter : int, default=100
    m_step_iter : int, default=3
        Fisher-scoring steps per M-step.

    Attributes
    ----------
    alpha_ : ndarray, shape (n_workers,)
        Worker ability (negative: adversarial).
    beta_ : ndarray, shape (n_items,)
        Item easiness (larger: easier).
    skills_ : ndarray, shape (n_workers,)
        ``sigmoid(alpha_ * e)``: accuracy on an item of prior-mean easiness.

    References
    ----------
    Whitehill et al., NeurIPS 2009.
    """

    def __init__(
        self,
        alpha_prior: float = 1.0,
        log_beta_prior: float = 1.0,
        prior_strength: float = 1.0,
        fit_class_prior: bool = False,
        tol: float = 1e-6,
        max_iter: int = 100,
        m_step_iter: int = 3,
    ) -> None:
        self.alpha_prior = alpha_prior
        self.log_beta_prior = log_beta_prior
        self.prior_strength = prior_strength
        self.fit_class_prior = fit_class_prior
        self.tol = tol
        self.max_iter = max_iter
        self.m_step_iter = m_step_iter

    def _fit(self, table: AnswerTable, **fit_params: Any) -> tuple[FloatArray, FloatArray]:
        trace = glad(
            table,
            alpha_prior=self.alpha_prior,
            log_beta_prior=self.log_beta_prior,
            prior_strength=self.prior_strength,
            fit_class_prior=self.fit_class_prior,
            tol=self.tol,
            max_iter=self.max_iter,
            m_step_iter=self.m_step_iter,
        )
        self.alpha_ = trace.params.alpha
        self.beta_ = np.exp(trace.params.log_beta)
        self.priors_ = trace.params.priors
        self.n_iter_ = trace.n_iter
        return trace.proba, expit(trace.params.alpha * np.exp(self.log_beta_prior))
