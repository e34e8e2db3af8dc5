"""Bounding-box geometry and quality measures, pure numpy.

Boxes are rows ``(x, y, w, h)`` in pixels: ``(x, y)`` is the top-left corner.
Matching is greedy by IoU, highest first, one-to-one, as in the PASCAL VOC and
COCO detection evaluations (Everingham et al., 2010, "The PASCAL Visual Object
Classes (VOC) Challenge", IJCV 88).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BoxCounts",
    "EditCounts",
    "as_boxes",
    "box_agreement",
    "compare_edits",
    "iou_matrix",
    "match_boxes",
    "precision_recall",
]

FloatArray = npt.NDArray[np.float64]


def as_boxes(boxes: npt.ArrayLike) -> FloatArray:
    """Return ``boxes`` as a float array of shape ``(n, 4)``; an empty input gives ``(0, 4)``."""
    out = np.asarray(boxes, dtype=np.float64)
    if out.size == 0:
        return np.zeros((0, 4))
    if out.ndim != 2 or out.shape[1] != 4:
        raise ValueError(f"boxes must have shape (n, 4), got {out.shape}")
    if not np.isfinite(out).all() or (out[:, 2:] < 0).any():
        raise ValueError("boxes need finite coordinates and non-negative width and height")
    return out


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4).

    Returns
    -------
    ndarray of shape (n, m), values in [0, 1]. Two boxes without area have IoU 0.
    """
    a, b = as_boxes(a), as_boxes(b)
    ax0, ay0 = a[:, 0:1], a[:, 1:2]
    ax1, ay1 = ax0 + a[:, 2:3], ay0 + a[:, 3:4]
    bx0, by0 = b[:, 0], b[:, 1]
    bx1, by1 = bx0 + b[:, 2], by0 + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0.0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0.0, None)
    inter = iw * ih
    union = (a[:, 2:3] * a[:, 3:4]) + (b[:, 2] * b[:, 3]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(iou, 0.0, 1.0)


def match_boxes(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    threshold: float = 0.5,
    labels_a: Sequence[str] | None = None,
    labels_b: Sequence[str] | None = None,
) -> list[tuple[int, int, float]]:
    """Pair boxes of ``a`` with boxes of ``b`` one-to-one, greedily by IoU (highest first).

    Only pairs with IoU >= ``threshold`` (and, when labels are given, equal
    labels) can match. Returns ``(index in a, index in b, iou)`` triples,
    highest IoU first; ties go to the lower indices.
    """
    iou = iou_matrix(a, b)
    if labels_a is not None and labels_b is not None:
        if len(labels_a) != iou.shape[0] or len(labels_b) != iou.shape[1]:
            raise ValueError("one label per box is needed")
        same = np.asarray(labels_a, dtype=object)[:, None] == np.asarray(labels_b, dtype=object)[None, :]
        iou = np.where(same, iou, 0.0)
    if iou.size == 0:
        return []
    flat = iou.ravel()
    # Stable sort on -iou keeps ties in row-major index order.
    order = np.argsort(-flat, kind="stable")
    order = order[flat[order] >= threshold]
    used_a = np.zeros(iou.shape[0], dtype=bool)
    used_b = np.zeros(iou.shape[1], dtype=bool)
    pairs: list[tuple[int, int, float]] = []
    for k in order:
        i, j = divmod(int(k), iou.shape[1])
        if used_a[i] or used_b[j] or flat[k] <= 0.0:
            continue
        used_a[i] = used_b[j] = True
        pairs.append((i, j, float(flat[k])))
    return pairs


@dataclass(frozen=True, slots=True)
class BoxCounts:
    """Detection counts at one IoU threshold, summed over images."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        """Matched predictions / predictions (1.0 when nothing was predicted)."""
        n = self.true_positives + self.false_positives
        return self.true_positives / n if n else 1.0

    @property
    def recall(self) -> float:
        """Matched truths / truths (1.0 when there was nothing to find)."""
        n = self.true_positives + self.false_negatives
        return self.true_positives / n if n else 1.0


def precision_recall(
    predicted: Sequence[npt.ArrayLike], truth: Sequence[npt.ArrayLike], *, threshold: float = 0.5
) -> BoxCounts:
    """Precision and recall of ``predicted`` boxes against ``truth``, one pair of arrays per image.

    A prediction is a true positive when it matches a truth box at IoU >=
    ``threshold`` (one-to-one, greedy, see :func:`match_boxes`).
    """
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth need one entry per image")
    tp = fp = fn = 0
    for pred, true in zip(predicted, truth, strict=True):
        p, t = as_boxes(pred), as_boxes(true)
        matched = len(match_boxes(p, t, threshold=threshold))
        tp += matched
        fp += len(p) - matched
        fn += len(t) - matched
    return BoxCounts(tp, fp, fn)


def box_agreement(a: npt.ArrayLike, b: npt.ArrayLike, *, threshold: float = 0.5) -> float:
    """IoU agreement of two people's (or a person's and a model's) boxes on one image.

    The boxes are matched (:func:`match_boxes` at ``threshold``); agreement is
    the sum of matched IoUs over ``n_a + n_b - matched``, so each unmatched box
    counts as a zero. 1.0 means identical box sets; two empty sets agree fully.
    """
    a, b = as_boxes(a), as_boxes(b)
    if len(a) == 0 and len(b) == 0:
        return 1.0
    pairs = match_boxes(a, b, threshold=threshold)
    return float(sum(p[2] for p in pairs) / (len(a) + len(b) - len(pairs)))


@dataclass(frozen=True, slots=True)
class EditCounts:
    """What people did to suggested boxes."""

    kept: int
    moved: int
    deleted: int
    added: int


def compare_edits(
    suggested: npt.ArrayLike,
    final: npt.ArrayLike,
    *,
    suggested_labels: Sequence[str] | None = None,
    final_labels: Sequence[str] | None = None,
    kept_iou: float = 0.95,
    match_iou: float = 0.1,
) -> EditCounts:
    """Count suggested boxes kept, moved (or relabeled) and deleted, and boxes added.

    Suggested and final boxes are matched at IoU >= ``match_iou``. A matched
    suggestion is *kept* when its final box overlaps it at IoU >= ``kept_iou``
    with the same label, else *moved*. Unmatched suggestions were *deleted*;
    unmatched final boxes were *added*.
    """
    s, f = as_boxes(suggested), as_boxes(final)
    pairs = match_boxes(s, f, threshold=match_iou)
    kept = 0
    for i, j, iou in pairs:
        same_label = (
            suggested_labels is None or final_labels is None or suggested_labels[i] == final_labels[j]
        )
        kept += int(iou >= kept_iou and same_label)
    return EditCounts(
        kept=kept, moved=len(pairs) - kept, deleted=len(s) - len(pairs), added=len(f) - len(pairs)
    )
