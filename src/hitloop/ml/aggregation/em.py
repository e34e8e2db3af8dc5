"""The expectation-maximisation loop shared by the latent-class aggregators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from hitloop.ml.aggregation.answers import FloatArray

__all__ = ["EMTrace", "run_em"]

P = TypeVar("P")


@dataclass(frozen=True)
class EMTrace(Generic[P]):
    """Where EM stopped: item posteriors, the parameters they came from, and how it got there."""

    proba: FloatArray
    params: P
    log_likelihood: float
    n_iter: int
    converged: bool


def run_em(
    init_proba: FloatArray,
    m_step: Callable[[FloatArray], P],
    e_step: Callable[[P], tuple[FloatArray, float]],
    *,
    tol: float,
    max_iter: int,
) -> EMTrace[P]:
    """Alternate M and E steps from initial item posteriors.

    Stops when the log-likelihood (plus log-prior, for MAP variants) improves
    by less than ``tol`` per item, or after ``max_iter`` rounds.
    """
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    if tol < 0:
        raise ValueError("tol must be non-negative")
    n_items = max(init_proba.shape[0], 1)
    proba = init_proba
    previous = -float("inf")
    params = m_step(proba)
    for it in range(1, max_iter + 1):
        proba, loglik = e_step(params)
        params = m_step(proba)
        if abs(loglik - previous) <= tol * n_items:
            return EMTrace(proba, params, loglik, it, True)
        previous = loglik
    return EMTrace(proba, params, previous, max_iter, False)
