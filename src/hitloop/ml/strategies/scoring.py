"""Pure scoring functions: class probabilities (or embeddings) in, one informativeness score per item out.

Higher scores mean "ask a person about this item sooner". Every function is
vectorized over items and has no state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans

from hitloop.ml.linalg import (
    CHUNK_ROWS,
    Features,
    as_generator,
    normalized_rows,
    one_blas_thread,
    row_sqnorms,
)

__all__ = [
    "bald",
    "cluster_density",
    "entropy",
    "gradient_embedding_factors",
    "least_confidence",
    "margin",
    "margin_uncertainty",
    "vote_entropy",
]


def _proba(P: Any) -> NDArray[np.float64]:
    out = np.asarray(P, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] < 1:
        raise ValueError(f"probabilities must have shape (n_items, n_classes), got {out.shape}")
    return out


def least_confidence(P: Any) -> NDArray[np.float64]:
    """One minus the top class probability.

    Parameters
    ----------
    P : array-like of shape (n_items, n_classes)
        Class probabilities; rows sum to 1.

    Returns
    -------
    ndarray of shape (n_items,)
        In [0, 1 - 1/n_classes]; 0 when the model is certain.

    References
    ----------
    D. D. Lewis and W. A. Gale, "A Sequential Algorithm for Training Text
    Classifiers", SIGIR 1994.
    """
    return np.asarray(1.0 - _proba(P).max(axis=1))


def margin(P: Any) -> NDArray[np.float64]:
    """Difference between the two most probable classes (small = uncertain).

    Parameters
    ----------
    P : array-like of shape (n_items, n_classes)

    Returns
    -------
    ndarray of shape (n_items,)
        In [0, 1]; a single class gives margin 1.

    References
    ----------
    T. Scheffer, C. Decomain and S. Wrobel, "Active Hidden Markov Models for
    Information Extraction", IDA 2001.
    """
    P = _proba(P)
    if P.shape[1] == 1:
        return np.ones(len(P))
    top2 = np.partition(P, P.shape[1] - 2, axis=1)[:, -2:]
    return np.asarray(top2[:, 1] - top2[:, 0])


def margin_uncertainty(P: Any) -> NDArray[np.float64]:
    """``1 - margin(P)``: the margin as a score to maximize, in [0, 1]."""
    return 1.0 - margin(P)


def entropy(P: Any) -> NDArray[np.float64]:
    """Shannon entropy of each row, in nats.

    Parameters
    ----------
    P : array-like of shape (n_items, n_classes)

    Returns
    -------
    ndarray of shape (n_items,)
        In [0, log(n_classes)]; maximal for the uniform distribution.

    References
    ----------
    C. E. Shannon, "A Mathematical Theory of Communication", 1948; for active
    learning, B. Settles, "Active Learning Literature Survey", 2009, §3.1.
    """
    P = _proba(P)
    logs = np.log(np.where(P > 0, P, 1.0))
    return np.asarray(-(P * logs).sum(axis=1))


def vote_entropy(member_proba: Any) -> NDArray[np.float64]:
    """Entropy of the committee's hard votes.

    Parameters
    ----------
    member_proba : array-like of shape (n_members, n_items, n_classes)
        Each committee member's class probabilities.

    Returns
    -------
    ndarray of shape (n_items,)
        In [0, log(min(n_members, n_classes))]; 0 when all members agree.

    References
    ----------
    I. Dagan and S. P. Engelson, "Committee-Based Sampling for Training
    Probabilistic Classifiers", ICML 1995.
    """
    M = np.asarray(member_proba, dtype=np.float64)
    if M.ndim != 3:
        raise ValueError(f"member probabilities must be (n_members, n_items, n_classes), got {M.shape}")
    n_members, n_items, n_classes = M.shape
    votes = M.argmax(axis=2)
    counts = np.zeros((n_items, n_classes))
    for member_votes in votes:
        counts[np.arange(n_items), member_votes] += 1.0
    return entropy(counts / n_members)


def bald(member_proba: Any) -> NDArray[np.float64]:
    """Mutual information between the label and the committee member (BALD).

    ``H(mean_m p_m) - mean_m H(p_m)``: high where members are each confident
    but disagree, low where all are equally unsure.

    Parameters
    ----------
    member_proba : array-like of shape (n_members, n_items, n_classes)

    Returns
    -------
    ndarray of shape (n_items,)
        Non-negative, at most log(n_classes).

    References
    ----------
    N. Houlsby, F. Huszár, Z. Ghahramani and M. Lengyel, "Bayesian Active
    Learning for Classification and Preference Learning", arXiv:1112.5745, 2011.
    """
    M = np.asarray(member_proba, dtype=np.float64)
    if M.ndim != 3:
        raise ValueError(f"member probabilities must be (n_members, n_items, n_classes), got {M.shape}")
    mean_entropy = np.mean([entropy(p) for p in M], axis=0)
    return np.asarray(np.maximum(entropy(M.mean(axis=0)) - mean_entropy, 0.0))


def gradient_embedding_factors(P: Any) -> NDArray[np.float64]:
    """The class factor ``a = p - onehot(argmax p)`` of BADGE's gradient embedding.

    For a softmax-linear model the gradient of the cross-entropy at the
    predicted label with respect to the weights is ``a ⊗ x``; its norm is
    large where the model is uncertain and the features are strong.

    Parameters
    ----------
    P : array-like of shape (n_items, n_classes)

    Returns
    -------
    ndarray of shape (n_items, n_classes)

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford and A. Agarwal, "Deep
    Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.
    """
    A = _proba(P).copy()
    A[np.arange(len(A)), A.argmax(axis=1)] -= 1.0
    return A


def cluster_density(
    X: Features,
    n_clusters: int = 20,
    rng: int | np.random.Generator | None = None,
    max_fit: int = 20_000,
) -> NDArray[np.float64]:
    """How typical each item is: cosine similarity to the centre of its k-means cluster.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_items, n_features)
    n_clusters : int
    rng : seed or Generator
    max_fit : int
        Centres are fit on at most this many items (a random sample).

    Returns
    -------
    ndarray of shape (n_items,)
        In [0, 1]; 1 for an item at its cluster's centre direction.

    References
    ----------
    H. T. Nguyen and A. Smeulders, "Active Learning Using Pre-clustering",
    ICML 2004; B. Settles and M. Craven, EMNLP 2008.
    """
    gen = as_generator(rng)
    n_items = X.shape[0]
    k = max(1, min(n_clusters, n_items))
    rows = np.arange(n_items)
    if n_items > max_fit:
        rows = np.sort(gen.choice(n_items, max_fit, replace=False))
    km = KMeans(n_clusters=k, n_init=1, random_state=int(gen.integers(2**31 - 1)))
    with one_blas_thread():
        km.fit(normalized_rows(X[rows]))
    centres = np.asarray(km.cluster_centers_, dtype=np.float64)
    norms = np.linalg.norm(centres, axis=1, keepdims=True)
    centres = centres / np.where(norms > 0, norms, 1.0)
    density = np.empty(n_items)
    Xa: Any = X
    towards = centres.T.astype(np.float32 if Xa.dtype == np.float32 else np.float64)
    for start in range(0, n_items, CHUNK_ROWS):
        # Block by block, and cosine as product over norm: no normalized copy of the pool.
        block = Xa[start : start + CHUNK_ROWS]
        norms = np.sqrt(row_sqnorms(block))
        norms[norms == 0] = 1.0
        density[start : start + CHUNK_ROWS] = np.asarray(block @ towards).max(axis=1) / norms
    return np.asarray(np.clip(density, 0.0, 1.0))
