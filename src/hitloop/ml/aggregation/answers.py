"""The answer table that every aggregator reads, and an encoder from arbitrary hashables.

An answer table is an integer array of shape ``(n_answers, 3)`` whose columns
are ``item``, ``worker`` and ``label`` codes, each a non-negative integer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

__all__ = ["AnswerTable", "EncodedAnswers", "check_answers", "encode_answers"]


@dataclass(frozen=True)
class AnswerTable:
    """A validated answer table: column arrays and the sizes of each axis."""

    item: IntArray
    worker: IntArray
    label: IntArray
    n_items: int
    n_workers: int
    n_classes: int

    @property
    def n_answers(self) -> int:
        return int(self.item.shape[0])


def check_answers(answers: npt.ArrayLike, n_classes: int | None = None) -> AnswerTable:
    """Validate an ``(n_answers, 3)`` table of ``item, worker, label`` codes.

    Parameters
    ----------
    answers : array-like of int, shape (n_answers, 3)
        One row per answer: item code, worker code, label code.
    n_classes : int, optional
        Number of classes; defaults to the largest label code plus one.

    Returns
    -------
    AnswerTable
        ``n_items`` and ``n_workers`` are the largest codes plus one, so an
        item code that no row uses is an item with no answers.
    """
    arr = np.asarray(answers)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"answers must have shape (n_answers, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("answers is empty")
    whole = np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.isfinite(arr))) and not np.any(arr % 1)
    if not np.issubdtype(arr.dtype, np.integer) and not whole:
        raise ValueError("answers must hold integer codes; use encode_answers for other values")
    arr = arr.astype(np.intp, copy=False)
    if arr.min() < 0:
        raise ValueError("answer codes must be non-negative")
    item, worker, label = (np.ascontiguousarray(arr[:, j]) for j in range(3))
    max_label = int(label.max())
    if n_classes is None:
        n_classes = max_label + 1
    elif max_label >= n_classes:
        raise ValueError(f"label code {max_label} is out of range for n_classes={n_classes}")
    if n_classes < 1:
        raise ValueError("n_classes must be at least 1")
    return AnswerTable(
        item=item,
        worker=worker,
        label=label,
        n_items=int(item.max()) + 1,
        n_workers=int(worker.max()) + 1,
        n_classes=int(n_classes),
    )


@dataclass(frozen=True)
class EncodedAnswers:
    """Integer-coded answers with the original values of each code.

    ``answers[:, 0]`` indexes ``items``, ``answers[:, 1]`` indexes ``workers``
    and ``answers[:, 2]`` indexes ``classes``.
    """

    answers: IntArray
    items: list[Hashable]
    workers: list[Hashable]
    classes: list[Hashable]

    def decode_labels(self, codes: Iterable[int]) -> list[Hashable]:
        """Class values for an iterable of class codes (e.g. an aggregator's ``labels_``)."""
        return [self.classes[int(c)] for c in codes]


def _codes(values: Sequence[Hashable], known: Sequence[Hashable] | None) -> tuple[IntArray, list[Hashable]]:
    if known is None:
        uniques = list(dict.fromkeys(values))
        # mixed, unorderable values keep their first-seen order
        with contextlib.suppress(TypeError):
            uniques = sorted(uniques)  # type: ignore[type-var]
    else:
        uniques = list(dict.fromkeys(known))
    index = {v: i for i, v in enumerate(uniques)}
    try:
        codes = np.fromiter((index[v] for v in values), dtype=np.intp, count=len(values))
    except KeyError as exc:
        raise ValueError(f"value {exc.args[0]!r} is not among the given classes") from None
    return codes, uniques


def encode_answers(
    items: Sequence[Hashable],
    workers: Sequence[Hashable],
    labels: Sequence[Hashable],
    classes: Sequence[Hashable] | None = None,
) -> EncodedAnswers:
    """Encode parallel sequences of item, worker and label values as integer codes.

    Codes follow sorted order where the values sort, first-seen order otherwise.

    Parameters
    ----------
    items, workers, labels : sequences of hashables, each of length n_answers
    classes : sequence of hashables, optional
        The full label set, in code order; labels outside it raise ``ValueError``.
        Pass it when some classes may have no answers yet.

    Returns
    -------
    EncodedAnswers
    """
    if not len(items) == len(workers) == len(labels):
        raise ValueError("items, workers and labels must have the same length")
    item_codes, item_values = _codes(items, None)
    worker_codes, worker_values = _codes(workers, None)
    label_codes, class_values = _codes(labels, classes)
    table = np.column_stack([item_codes, worker_codes, label_codes]).reshape(-1, 3)
    return EncodedAnswers(answers=table, items=item_values, workers=worker_values, classes=class_values)
