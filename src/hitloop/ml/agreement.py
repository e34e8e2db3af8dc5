"""Inter-annotator agreement: Cohen's κ, Fleiss' κ, Krippendorff's α (any distance) and a pairwise κ matrix.

Undefined coefficients (no variation to agree on, too few ratings) are ``nan``
rather than an exception, so a project page can show "not enough data".
"""

from __future__ import annotations

from collections.abc import Hashable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from hitloop.ml.aggregation.answers import AnswerTable, FloatArray, IntArray, check_answers

__all__ = [
    "BinaryAgreement",
    "PairwiseAgreement",
    "binary_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "fleiss_kappa_per_class",
    "krippendorff_alpha",
    "krippendorff_alpha_distance",
    "krippendorff_alpha_masi",
    "masi_distance",
    "pairwise_kappa",
    "pooled_pairwise_kappa",
    "rating_counts",
    "reliability_data",
    "sample_items_by_distinct_values",
]


def _labels(values: npt.ArrayLike, name: str) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0):
        raise ValueError(f"{name} must hold non-negative integer class codes")
    return arr.astype(np.intp, copy=False)


def _kappa(observed: FloatArray | float, expected: FloatArray | float) -> FloatArray:
    obs, exp = np.asarray(observed, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isclose(exp, 1.0, rtol=0, atol=1e-12), np.nan, (obs - exp) / (1.0 - exp))


def cohen_kappa(a: npt.ArrayLike, b: npt.ArrayLike, n_classes: int | None = None) -> float:
    """Cohen's κ between two raters who labelled the same items.

    Parameters
    ----------
    a, b : array-like of int, shape (n_items,)
        Class codes given by each rater to the same items, in the same order.
    n_classes : int, optional
        Defaults to the largest code plus one.

    Returns
    -------
    float
        ``(p_o - p_e) / (1 - p_e)``; ``nan`` when there are no items or chance
        agreement is 1 (both raters always give the same single class).

    References
    ----------
    J. Cohen, "A coefficient of agreement for nominal scales", Educational and
    Psychological Measurement 20(1), 1960.
    """
    x, y = _labels(a, "a"), _labels(b, "b")
    if x.shape != y.shape:
        raise ValueError("a and b must have the same length")
    if x.size == 0:
        return float("nan")
    k = int(max(x.max(), y.max())) + 1 if n_classes is None else n_classes
    table = np.bincount(x * k + y, minlength=k * k).reshape(k, k) / x.size
    return float(_kappa(np.trace(table), table.sum(axis=1) @ table.sum(axis=0)))


def rating_counts(answers: npt.ArrayLike, n_classes: int | None = None) -> FloatArray:
    """Count table (n_items, n_classes) from an ``item, worker, label`` answer table."""
    t = check_answers(answers, n_classes)
    flat = np.bincount(t.item * t.n_classes + t.label, minlength=t.n_items * t.n_classes)
    return flat.reshape(t.n_items, t.n_classes).astype(np.float64)


def _counts(counts: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError("counts must have shape (n_items, n_classes)")
    if c.size and (c.min() < 0 or not np.all(np.isfinite(c))):
        raise ValueError("counts must be finite and non-negative")
    n = c.sum(axis=1)
    keep = n >= 2  # an item rated once says nothing about agreement
    return c[keep], n[keep]


def fleiss_kappa(counts: npt.ArrayLike) -> float:
    """Fleiss' κ for many raters from a count table.

    Parameters
    ----------
    counts : array-like, shape (n_items, n_classes)
        ``counts[i, j]`` raters put item ``i`` in class ``j``. Items with fewer
        than two ratings are ignored; the number of raters may vary by item
        (each item's agreement uses its own count), which reduces to Fleiss'
        formula when it is constant.

    Returns
    -------
    float
        ``nan`` when no item has two ratings or all ratings are one class.

    References
    ----------
    J. L. Fleiss, "Measuring nominal scale agreement among many raters",
    Psychological Bulletin 76(5), 1971.
    """
    c, n = _counts(counts)
    if c.shape[0] == 0:
        return float("nan")
    per_item = (np.sum(c * (c - 1), axis=1)) / (n * (n - 1))
    p = c.sum(axis=0) / n.sum()
    return float(_kappa(per_item.mean(), np.sum(p**2)))


def fleiss_kappa_per_class(counts: npt.ArrayLike) -> FloatArray:
    """Fleiss' per-category κ: agreement on each class, shape (n_classes,).

    ``kappa_j = 1 - sum_i n_ij (n_i - n_ij) / (n_i - 1) / (sum_i n_i p_j (1 - p_j))``;
    ``nan`` for a class nobody (or everybody) chose.

    References
    ----------
    Fleiss, Psychological Bulletin 76(5), 1971, eq. (16)–(17).
    """
    c, n = _counts(counts)
    if c.shape[0] == 0:
        return np.full(np.asarray(counts).shape[-1], np.nan)
    p = c.sum(axis=0) / n.sum()
    disagreement = np.sum(c * (n[:, None] - c) / (n[:, None] - 1), axis=0)
    expected = n.sum() * p * (1 - p)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - disagreement / np.where(expected > 0, expected, 1.0), np.nan)


def reliability_data(answers: npt.ArrayLike) -> FloatArray:
    """Reliability data (n_workers, n_items) for Krippendorff's α: label codes, ``nan`` where unanswered."""
    t = check_answers(answers)
    _check_unique(t)
    out = np.full((t.n_workers, t.n_items), np.nan)
    out[t.worker, t.item] = t.label
    return out


def _check_unique(t: AnswerTable) -> None:
    pairs = t.item.astype(np.int64) * t.n_workers + t.worker
    if np.unique(pairs).size != pairs.size:
        raise ValueError("a worker answered the same item more than once")


def krippendorff_alpha(data: npt.ArrayLike, level: Literal["nominal", "interval"] = "nominal") -> float:
    """Krippendorff's α from reliability data with missing values.

    Parameters
    ----------
    data : array-like of float, shape (n_raters, n_units)
        ``nan`` where a rater did not rate a unit. Units with fewer than two
        ratings are not pairable and are ignored.
    level : {"nominal", "interval"}
        Difference function: ``c != k`` or ``(c - k) ** 2``.

    Returns
    -------
    float
        ``1 - D_o / D_e`` from the coincidence matrix; ``nan`` when there are
        no pairable values or no variation.

    References
    ----------
    K. Krippendorff, "Computing Krippendorff's alpha-reliability", 2011
    (University of Pennsylvania ScholarlyCommons, asc_papers/43).
    """
    if level not in ("nominal", "interval"):
        raise ValueError("level must be 'nominal' or 'interval'")
    x = _reliability(data)
    values = np.unique(x[~np.isnan(x)])
    delta = 1.0 - np.eye(values.size) if level == "nominal" else (values[:, None] - values[None, :]) ** 2
    codes = np.where(np.isnan(x), np.nan, np.searchsorted(values, np.nan_to_num(x)))
    return krippendorff_alpha_distance(codes, delta)


def _reliability(data: npt.ArrayLike) -> FloatArray:
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("data must have shape (n_raters, n_units)")
    if np.any(np.isinf(x)):
        raise ValueError("data must be finite or nan")
    return x


def krippendorff_alpha_distance(codes: npt.ArrayLike, distance: npt.ArrayLike) -> float:
    """Krippendorff's α with any difference function, given as a matrix over value codes.

    Parameters
    ----------
    codes : array-like of float, shape (n_raters, n_units)
        Value codes ``0 .. n_values - 1``, ``nan`` where a rater did not rate a unit.
    distance : array-like of float, shape (n_values, n_values)
        Symmetric, non-negative, zero on the diagonal: ``distance[c, k]`` is
        the difference δ²(c, k) between values ``c`` and ``k`` (for example
        :func:`masi_distance` between label sets).

    Returns
    -------
    float
        ``nan`` when no unit has two ratings or the pairable values do not differ.
    """
    x = _reliability(codes)
    delta = np.asarray(distance, dtype=np.float64)
    if delta.ndim != 2 or delta.shape[0] != delta.shape[1]:
        raise ValueError("distance must be a square matrix")
    if delta.size and (delta.min() < 0 or not np.allclose(delta, delta.T) or np.any(np.diag(delta) != 0)):
        raise ValueError("distance must be symmetric, non-negative and zero on the diagonal")
    rated = x[~np.isnan(x)]
    if rated.size and (rated.min() < 0 or rated.max() >= delta.shape[0] or np.any(rated % 1)):
        raise ValueError(f"codes must be whole numbers from 0 to {delta.shape[0] - 1}")
    by_unit = x.T  # (n_units, n_raters)
    present = ~np.isnan(by_unit)
    m = present.sum(axis=1)
    pairable = m >= 2
    by_unit, present, m = by_unit[pairable], present[pairable], m[pairable]
    if m.size == 0:
        return float("nan")
    unit, _ = np.nonzero(present)  # row-major, the same order as by_unit[present]
    used, codes_used = np.unique(by_unit[present].astype(np.intp), return_inverse=True)
    delta = delta[np.ix_(used, used)]
    units = np.zeros((m.size, used.size))
    np.add.at(units, (unit, codes_used.reshape(-1)), 1.0)  # (n_units, n_values) counts
    weighted = units / (m[:, None] - 1)
    coincidence = weighted.T @ units - np.diag(weighted.sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    observed = np.sum(coincidence * delta)
    expected = (n_c @ delta @ n_c) / (n - 1)
    if expected <= 0:
        return float("nan")
    return float(1.0 - observed / expected)


def masi_distance(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """MASI distance between two label sets: ``1 - J * M``.

    ``J`` is the Jaccard index ``|a & b| / |a | b|`` and ``M`` is 1 when the
    sets are equal, 2/3 when one contains the other, 1/3 when they overlap
    otherwise and 0 when they are disjoint. Two empty sets are equal (distance 0).

    References
    ----------
    R. Passonneau, "Measuring agreement on set-valued items (MASI) for semantic
    and pragmatic annotation", LREC 2006.
    """
    if a == b:
        return 0.0
    common = len(a & b)
    if common == 0:
        return 1.0
    monotonicity = 2 / 3 if (a <= b or b <= a) else 1 / 3
    return 1.0 - common / len(a | b) * monotonicity


def _membership(membership: npt.ArrayLike | sp.spmatrix) -> sp.csr_matrix:
    b = sp.csr_matrix(membership, dtype=np.float64)
    if b.nnz and (b.data.min() < 0 or np.any((b.data != 0) & (b.data != 1))):
        raise ValueError("membership must hold 0 or 1")
    b.eliminate_zeros()
    return b


def _label_set_answers(
    answers: npt.ArrayLike, membership: npt.ArrayLike | sp.spmatrix
) -> tuple[AnswerTable, sp.csr_matrix]:
    """Checked ``item, worker, set`` answers (one per worker and item) and their set membership."""
    t = check_answers(answers)
    _check_unique(t)
    b = _membership(membership)
    if t.label.max() >= b.shape[0]:
        raise ValueError(f"set code {int(t.label.max())} has no row in membership ({b.shape[0]} rows)")
    return t, b


def _masi_rows(b: sp.csr_matrix, left: IntArray, right: IntArray, sizes: FloatArray) -> FloatArray:
    """MASI distance between the sets ``left[i]`` and ``right[i]`` (rows of membership ``b``)."""
    inter = np.asarray(b[left].multiply(b[right]).sum(axis=1)).ravel()
    return _masi_from_sizes(inter, sizes[left], sizes[right])


def _masi_from_sizes(inter: FloatArray, size_a: FloatArray, size_b: FloatArray) -> FloatArray:
    union = size_a + size_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    equal = (inter == size_a) & (inter == size_b)
    nested = inter == np.minimum(size_a, size_b)
    monotonicity = np.where(equal, 1.0, np.where(nested, 2 / 3, np.where(inter > 0, 1 / 3, 0.0)))
    return 1.0 - jaccard * monotonicity


def krippendorff_alpha_masi(answers: npt.ArrayLike, membership: npt.ArrayLike | sp.spmatrix) -> float:
    """Krippendorff's α of label-set answers with the MASI distance, without a sets x sets matrix.

    Equal to ``krippendorff_alpha_distance`` with the matrix of
    :func:`masi_distance` between every pair of sets, but only pairs of sets
    that share a label are compared, so thousands of distinct label sets
    (projects with many labels) stay cheap.

    Parameters
    ----------
    answers : array-like of int, shape (n_answers, 3)
        ``item, worker, set`` codes; each worker answers an item at most once.
    membership : array-like or sparse matrix of 0/1, shape (n_sets, n_labels)
        Row ``s`` marks the labels in set ``s``.
    """
    t, b = _label_set_answers(answers, membership)
    per_item = np.bincount(t.item, minlength=t.n_items)
    keep = per_item[t.item] >= 2
    item, code = t.item[keep], t.label[keep]
    if item.size == 0:
        return float("nan")
    sizes = np.asarray(b.sum(axis=1)).ravel()
    # observed: every ordered pair of answers to one item, weighted 1 / (m - 1)
    order = np.argsort(item, kind="stable")
    item, code = item[order], code[order]
    starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    m = np.diff(np.r_[starts, item.size])
    left, right, weight = [], [], []
    for size in np.unique(m):
        first = starts[m == size]
        offsets = np.array([(x, y) for x in range(size) for y in range(size) if x != y], dtype=np.intp)
        left.append(code[(first[:, None] + offsets[None, :, 0]).ravel()])
        right.append(code[(first[:, None] + offsets[None, :, 1]).ravel()])
        weight.append(np.full(first.size * offsets.shape[0], 1.0 / (size - 1)))
    observed = float(
        np.sum(np.concatenate(weight) * _masi_rows(b, np.concatenate(left), np.concatenate(right), sizes))
    )
    # expected: every pair of pairable values, via the counts of each distinct set. Distinct
    # sets that share no label are at distance 1, so only overlapping pairs (the non-zeros of
    # B B^T, sparse when sets are small) need the MASI formula.
    used, n_c = np.unique(code, return_counts=True)
    n_c = n_c.astype(np.float64)
    bu, su = b[used], sizes[used]
    overlap = (bu @ bu.T).tocoo()
    off = overlap.row != overlap.col
    row, col, inter = overlap.row[off], overlap.col[off], overlap.data[off]
    similarity = 1.0 - _masi_from_sizes(inter, su[row], su[col])
    expected = n_c.sum() ** 2 - np.sum(n_c**2) - float(np.sum(n_c[row] * n_c[col] * similarity))
    expected /= n_c.sum() - 1
    if expected <= 0:
        return float("nan")
    return float(1.0 - observed / expected)


def sample_items_by_distinct_values(
    answers: npt.ArrayLike, rank: npt.ArrayLike, max_values: int
) -> npt.NDArray[np.bool_] | None:
    """Which answers to keep so that at most ``max_values`` distinct values remain, or None: keep all.

    The cost of :func:`krippendorff_alpha_masi` grows with the square of the
    number of distinct label sets among items that two or more people answered.
    Past ``max_values`` of them, items are taken whole in ``rank`` order (lowest
    first; give a fixed pseudo-random rank for a deterministic sample) while
    the distinct values among the taken items stay within ``max_values``.
    Items with a single answer are dropped (they carry no agreement).

    Parameters
    ----------
    answers : array-like of int, shape (n_answers, 3)
        ``item, worker, value`` codes.
    rank : array-like, shape (n_items,)
        The order in which to take items, one entry per item code.
    max_values : int
        The most distinct values to keep (at least 1).
    """
    if max_values < 1:
        raise ValueError("max_values must be at least 1")
    t = check_answers(answers)
    item_rank = np.asarray(rank)
    if item_rank.shape != (t.n_items,):
        raise ValueError(f"rank has shape {item_rank.shape}, expected ({t.n_items},)")
    pairable = np.bincount(t.item, minlength=t.n_items)[t.item] >= 2
    if np.unique(t.label[pairable]).size <= max_values:
        return None
    rows = np.flatnonzero(pairable)
    rows = rows[np.lexsort((rows, t.item[rows], item_rank[t.item[rows]]))]
    item, value = t.item[rows], t.label[rows]
    _, first = np.unique(value, return_index=True)
    new = np.zeros(rows.size, dtype=np.int64)
    new[first] = 1
    seen = np.cumsum(new)  # distinct values among the answers up to here
    last = np.flatnonzero(np.r_[item[1:] != item[:-1], True])  # each item's last answer
    taken = int(np.sum(seen[last] <= max_values))  # a prefix of items: ``seen`` never falls
    keep = np.zeros(len(t.item), dtype=np.bool_)
    keep[rows[: last[taken - 1] + 1] if taken else rows[:0]] = True
    return keep


@dataclass(frozen=True)
class BinaryAgreement:
    """Agreement on yes/no questions asked of the same units.

    ``kappa`` (Fleiss) and ``alpha`` (Krippendorff, nominal) have one entry
    per question, ``nan`` where a question got only one answer or no variation;
    ``pooled_kappa`` and ``pooled_alpha`` treat every (unit, question) as one
    yes/no rating.
    """

    kappa: FloatArray
    alpha: FloatArray
    pooled_kappa: float
    pooled_alpha: float


def binary_agreement(yes: npt.ArrayLike | sp.spmatrix, totals: npt.ArrayLike) -> BinaryAgreement:
    """Fleiss' κ and Krippendorff's α of many yes/no questions at once, from counts.

    Parameters
    ----------
    yes : array-like or sparse matrix, shape (n_units, n_questions)
        How many raters said yes to each question about each unit (a sparse
        matrix keeps multilabel projects with many labels cheap).
    totals : array-like, shape (n_units,)
        How many raters rated each unit (all questions are asked of all of
        them). Units rated fewer than twice are ignored.

    Returns
    -------
    BinaryAgreement
        Per question, the same values :func:`fleiss_kappa` and
        :func:`krippendorff_alpha` give on that question's two-column table.
    """
    a = sp.csr_matrix(yes, dtype=np.float64)
    m = np.asarray(totals, dtype=np.float64)
    if m.ndim != 1 or m.shape[0] != a.shape[0]:
        raise ValueError("totals must have one entry per unit (row of yes)")
    if a.nnz and (a.data.min() < 0 or np.any(a.data > m[a.tocoo().row])):
        raise ValueError("yes counts must be between 0 and the unit's total")
    keep = m >= 2
    a, m = a[keep], m[keep]
    k = a.shape[1]
    if m.size == 0:
        nan = np.full(k, np.nan)
        return BinaryAgreement(nan, nan.copy(), float("nan"), float("nan"))
    # a (m - a) per unit and question: the yes/no pairs within the unit
    split = a.multiply(m[:, None]) - a.multiply(a)
    # summed over units, weighted as Fleiss (1 / m(m-1)) and as Krippendorff (1 / (m-1))
    fleiss_split = np.asarray((sp.diags(1.0 / (m * (m - 1))) @ split).sum(axis=0)).ravel()
    alpha_split = np.asarray((sp.diags(1.0 / (m - 1)) @ split).sum(axis=0)).ravel()
    n_units, n_values = float(m.size), float(m.sum())
    said_yes = np.asarray(a.sum(axis=0)).ravel()

    def fleiss(
        split_sum: FloatArray | float, units: float, yes_sum: FloatArray | float, values: float
    ) -> FloatArray:
        agreement = 1.0 - 2.0 * np.asarray(split_sum) / units
        p = np.asarray(yes_sum) / values
        return _kappa(agreement, p**2 + (1 - p) ** 2)

    def alpha(split_sum: FloatArray | float, yes_sum: FloatArray | float, values: float) -> FloatArray:
        yes_no = np.asarray(yes_sum) * (values - np.asarray(yes_sum))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                yes_no > 0,
                1.0 - (values - 1) * np.asarray(split_sum) / np.where(yes_no > 0, yes_no, 1.0),
                np.nan,
            )

    return BinaryAgreement(
        kappa=fleiss(fleiss_split, n_units, said_yes, n_values),
        alpha=alpha(alpha_split, said_yes, n_values),
        pooled_kappa=float(fleiss(fleiss_split.sum(), n_units * k, said_yes.sum(), n_values * k)),
        pooled_alpha=float(alpha(alpha_split.sum(), said_yes.sum(), n_values * k)),
    )


def pooled_pairwise_kappa(
    answers: npt.ArrayLike, membership: npt.ArrayLike | sp.spmatrix, min_shared: int = 2
) -> PairwiseAgreement:
    """Cohen's κ per pair of workers over the yes/no decisions of label-set answers.

    Every label is a yes/no question about every item; for two workers, the
    decisions on the items both answered are pooled into one 2 x 2 table.

    Parameters
    ----------
    answers : array-like of int, shape (n_answers, 3)
        ``item, worker, set`` codes; each worker answers an item at most once.
    membership : array-like or sparse matrix of 0/1, shape (n_sets, n_labels)
    min_shared : int, default=2
        Pairs sharing fewer *items* get ``nan``.

    Returns
    -------
    PairwiseAgreement
        ``n_shared`` counts shared items (each holds ``n_labels`` decisions).
    """
    t, b = _label_set_answers(answers, membership)
    w, n_labels = t.n_workers, b.shape[1]
    ones = np.ones(t.n_answers)
    answered = sp.csr_matrix((ones, (t.worker, t.item)), shape=(w, t.n_items))
    sizes = np.asarray(b.sum(axis=1)).ravel()[t.label]
    chosen = sp.csr_matrix((sizes, (t.worker, t.item)), shape=(w, t.n_items))
    # one row per worker over (item, label) decisions that were "yes"
    per_answer = b[t.label].tocoo()
    yes = sp.csr_matrix(
        (per_answer.data, (t.worker[per_answer.row], t.item[per_answer.row] * n_labels + per_answer.col)),
        shape=(w, t.n_items * n_labels),
    )
    shared = (answered @ answered.T).toarray()
    both = (yes @ yes.T).toarray()
    only_u = (chosen @ answered.T).toarray() - both  # u yes, v no
    only_v = only_u.T
    total = shared * n_labels
    with np.errstate(invalid="ignore", divide="ignore"):
        neither = total - both - only_u - only_v
        observed = (both + neither) / total
        p_u, p_v = (both + only_u) / total, (both + only_v) / total
        expected = p_u * p_v + (1 - p_u) * (1 - p_v)
    kappa = _kappa(observed, expected)
    kappa[shared < max(min_shared, 1)] = np.nan
    np.fill_diagonal(kappa, np.nan)
    return PairwiseAgreement(kappa=kappa, n_shared=shared.astype(np.intp))


@dataclass(frozen=True)
class PairwiseAgreement:
    """Cohen's κ per pair of workers on the items both answered.

    ``kappa`` and ``n_shared`` have shape (n_workers, n_workers); ``kappa`` is
    ``nan`` on the diagonal, where fewer than ``min_shared`` items are shared,
    and where κ is undefined.
    """

    kappa: FloatArray
    n_shared: IntArray


def pairwise_kappa(
    answers: npt.ArrayLike, n_classes: int | None = None, min_shared: int = 2
) -> PairwiseAgreement:
    """Cohen's κ for every pair of workers, computed together with sparse products.

    Parameters
    ----------
    answers : array-like of int, shape (n_answers, 3)
        ``item, worker, label`` codes; each worker answers an item at most once.
    n_classes : int, optional
    min_shared : int, default=2
        Pairs sharing fewer items get ``nan``.

    Returns
    -------
    PairwiseAgreement
    """
    t = check_answers(answers, n_classes)
    _check_unique(t)
    k, w = t.n_classes, t.n_workers
    # one indicator matrix (workers x items) per class
    per_class = [
        sp.csr_matrix((np.ones(int(mask.sum())), (t.worker[mask], t.item[mask])), shape=(w, t.n_items))
        for mask in (t.label == c for c in range(k))
    ]
    # joint[a][b][u, v]: items where worker u said a and worker v said b
    joint = np.stack(
        [np.stack([(per_class[a] @ per_class[b].T).toarray() for b in range(k)]) for a in range(k)]
    )
    shared = joint.sum(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.trace(joint, axis1=0, axis2=1) / shared
        row = joint.sum(axis=1) / shared  # class shares of worker u on the shared items
        col = joint.sum(axis=0) / shared  # class shares of worker v
        expected = np.sum(row * col, axis=0)
    kappa = _kappa(observed, expected)
    kappa[shared < max(min_shared, 1)] = np.nan
    np.fill_diagonal(kappa, np.nan)
    return PairwiseAgreement(kappa=kappa, n_shared=shared.astype(np.intp))
