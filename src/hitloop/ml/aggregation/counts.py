"""Sums over the answer table that the aggregators share: votes, per-item and per-worker totals."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray

__all__ = ["ItemSums", "normalize_rows", "posterior_from_log", "vote_counts"]


def vote_counts(table: AnswerTable, weights: FloatArray | None = None) -> FloatArray:
    """Votes (or summed ``weights``) per item and class, shape (n_items, n_classes)."""
    k = table.n_classes
    flat = np.bincount(table.item * k + table.label, weights=weights, minlength=table.n_items * k)
    return flat.reshape(table.n_items, k).astype(np.float64, copy=False)


def normalize_rows(counts: FloatArray) -> FloatArray:
    """Rows scaled to sum to 1 along the last axis; all-zero rows become uniform."""
    totals = counts.sum(axis=-1, keepdims=True)
    k = counts.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 1.0 / k)
    return out


def posterior_from_log(log_joint: FloatArray) -> tuple[FloatArray, float]:
    """Normalise per-item log joint probabilities; also return the log-likelihood."""
    top = log_joint.max(axis=1, keepdims=True)
    expd = np.exp(log_joint - top)
    norm = expd.sum(axis=1, keepdims=True)
    return expd / norm, float(np.sum(np.log(norm) + top))


class ItemSums:
    """Sparse incidence matrices for summing per-answer rows by item and by (worker, label).

    Built once per fit so that each EM step is two sparse products.
    """

    def __init__(self, table: AnswerTable) -> None:
        n = table.n_answers
        ones = np.ones(n)
        cols = np.arange(n)
        self.table = table
        self.by_item = sp.csr_matrix((ones, (table.item, cols)), shape=(table.n_items, n))
        k = table.n_classes
        self.by_worker_label = sp.csr_matrix(
            (ones, (table.worker * k + table.label, cols)), shape=(table.n_workers * k, n)
        )
        self.by_worker = sp.csr_matrix((ones, (table.worker, cols)), shape=(table.n_workers, n))

    def per_item(self, rows: FloatArray) -> FloatArray:
        """Sum per-answer rows (n_answers, m) into per-item rows (n_items, m)."""
        return np.asarray(self.by_item @ rows)

    def per_worker(self, rows: FloatArray) -> FloatArray:
        """Sum per-answer rows (n_answers, m) into per-worker rows (n_workers, m)."""
        return np.asarray(self.by_worker @ rows)

    def confusion_counts(self, proba: FloatArray) -> FloatArray:
        """Expected counts ``[worker, true class, answered label]`` given item posteriors."""
        t = self.table
        k = t.n_classes
        # rows: (worker, answered label); columns: true class
        counts = np.asarray(self.by_worker_label @ proba[t.item]).reshape(t.n_workers, k, k)
        return counts.transpose(0, 2, 1)
