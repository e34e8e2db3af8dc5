"""Majority vote with deterministic tie-breaking and vote-share confidence."""

from __future__ import annotations

from typing import Any

import numpy as np

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray, IntArray
from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.counts import normalize_rows, vote_counts

__all__ = ["MajorityVote", "majority_vote"]


def majority_vote(table: AnswerTable) -> tuple[FloatArray, IntArray]:
    """Vote shares per item and the majority label.

    Returns
    -------
    proba : ndarray, shape (n_items, n_classes)
        Each class's share of the item's votes (uniform for an item with none).
    labels : ndarray of int, shape (n_items,)
        Most-voted class; ties go to the lower class code.
    """
    counts = vote_counts(table)
    proba = normalize_rows(counts)
    return proba, np.argmax(counts, axis=1).astype(np.intp)


class MajorityVote(Aggregator):
    """Majority vote: each item's most frequent answer.

    ``proba_`` holds vote shares, so ``confidence_`` is the winning share;
    ``skills_`` is each worker's agreement with the consensus.
    """

    def _fit(self, table: AnswerTable, **fit_params: Any) -> tuple[FloatArray, FloatArray]:
        proba, labels = majority_vote(table)
        agree = (labels[table.item] == table.label).astype(np.float64)
        n = np.bincount(table.worker, minlength=table.n_workers)
        skills = np.bincount(table.worker, agree, minlength=table.n_workers) / np.maximum(n, 1)
        return proba, skills
