"""Query by committee: a bootstrap ensemble of the current learner disagrees on informative items."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone

from hitloop.ml.strategies.base import Pool, QueryStrategy
from hitloop.ml.strategies.scoring import bald, vote_entropy
from hitloop.ml.strategies.selection import diverse_top_n, top_n

__all__ = ["BaldCommittee", "QueryByCommittee", "bootstrap_committee"]

_MEASURES = {"vote_entropy": vote_entropy, "bald": bald}


def _stratified_bootstrap(y: NDArray[Any], rng: np.random.Generator) -> NDArray[np.intp]:
    """Resample each class with replacement, so every member sees every labeled class."""
    parts = [rng.choice(np.flatnonzero(y == c), size=int((y == c).sum())) for c in np.unique(y)]
    return np.concatenate(parts).astype(np.intp)


def bootstrap_committee(pool: Pool, n_members: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Class probabilities of ``n_members`` clones of ``pool.learner``, each fit on a bootstrap of the labels.

    Parameters
    ----------
    pool : Pool
        Needs ``learner`` (fitted, for its parameters and ``classes_``) and ``y``.
    n_members : int
    rng : Generator

    Returns
    -------
    ndarray of shape (n_members, n_items, n_classes)

    References
    ----------
    N. Abe and H. Mamitsuka, "Query Learning Strategies Using Boosting and
    Bagging", ICML 1998.
    """
    if pool.learner is None or pool.y is None:
        raise ValueError("query by committee needs the fitted learner and the labels (pool.learner, pool.y)")
    if n_members < 2:
        raise ValueError(f"a committee needs at least 2 members, got {n_members}")
    classes = list(pool.learner.classes_)
    X_labeled = pool.X[pool.labeled]
    members = []
    for _ in range(n_members):
        rows = _stratified_bootstrap(pool.y, rng)
        member = clone(pool.learner)
        if "classes" in member.get_params():
            member.set_params(classes=classes)
        members.append(member.fit(X_labeled[rows], pool.y[rows]).predict_proba(pool.X))
    return np.stack(members)


class QueryByCommittee(QueryStrategy):
    """Items the committee disagrees on most.

    Parameters
    ----------
    n_members : int
        Bootstrap clones of the current learner (trained on labeled items only).
    measure : {"vote_entropy", "bald"}
        :func:`~hitloop.ml.strategies.scoring.vote_entropy` (hard votes) or
        :func:`~hitloop.ml.strategies.scoring.bald` (mutual information).
    batch : {"top", "diverse"}
    candidates : int

    References
    ----------
    H. S. Seung, M. Opper and H. Sompolinsky, "Query by Committee", COLT 1992.
    """

    def __init__(
        self, n_members: int = 5, measure: str = "vote_entropy", batch: str = "top", candidates: int = 5
    ):
        self.n_members = n_members
        self.measure = measure
        self.batch = batch
        self.candidates = candidates

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        if self.measure not in _MEASURES:
            raise ValueError(f"measure must be one of {sorted(_MEASURES)}, got {self.measure!r}")
        members = bootstrap_committee(pool, self.n_members, rng)
        scores = _MEASURES[self.measure](members)
        # Vote entropy ties often (few members): the mean margin breaks ties toward the uncertain.
        mean = members.mean(axis=0)
        top2 = np.sort(mean, axis=1)[:, -2:] if mean.shape[1] > 1 else np.ones((len(mean), 2))
        return np.asarray(scores + 1e-3 * (1.0 - (top2[:, 1] - top2[:, 0])))

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        scores = self.score(pool, rng)
        if self.batch == "diverse":
            return diverse_top_n(scores, pool.X, n, pool.excluded, rng, candidates=self.candidates)
        return top_n(scores, n, pool.excluded, rng)


class BaldCommittee(QueryByCommittee):
    """:class:`QueryByCommittee` with the BALD disagreement measure by default."""

    def __init__(self, n_members: int = 5, measure: str = "bald", batch: str = "top", candidates: int = 5):
        super().__init__(n_members=n_members, measure=measure, batch=batch, candidates=candidates)
