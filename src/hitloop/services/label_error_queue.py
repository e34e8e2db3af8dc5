"""The "likely label errors" review queue: confident learning on out-of-fold probabilities.

Each answered item of a classify project gets its current label (the most
common current answer; ties go to the label listed first). A quick model —
logistic regression on TF-IDF for text, 10 nearest neighbours on 16x16
grayscale pixels for images (on digits 0.7 s of CPU against 40 s for logistic
regression, and more precise) — is cross-validated so that every item is
scored by a model that never saw its label; items whose given label gets a
low probability are listed first (self-confidence ranking, Northcutt et al.
2021). Only as many as confident learning estimates are wrong are listed.

The ranking is computed once per change of the project's answers or reviews
(:mod:`hitloop.services.state_cache`): paging through the queue, or a second
reviewer opening it, reads the kept ranking instead of cross-validating again.
A ranking whose state has held for a few seconds is computed once more (an answer
committed out of id order on PostgreSQL leaves the state as it was).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Item
from hitloop.media.store import MediaStore
from hitloop.ml.featurizers import ImagePixels, TextTfidf
from hitloop.ml.label_errors import find_label_errors, out_of_fold_proba
from hitloop.schemas import ReviewQueue
from hitloop.services.consensus import project_answers
from hitloop.services.review import review_entries
from hitloop.services.state_cache import StateCache, answer_state

__all__ = ["MAX_ITEMS", "MIN_ITEMS", "label_error_queue"]

MIN_ITEMS = 10  # fewer labelled items say nothing about which labels are wrong
MAX_ITEMS = 20_000  # the newest items beyond this are left out (the model runs once per change)
IMAGE_SIDE = 16


def _current_labels(db: Database, project_id: int) -> tuple[list[str], str, dict[int, int]]:
    answers = project_answers(db, project_id)
    order = {name: j for j, name in enumerate(answers.labels)}
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    for item, label in zip(answers.item_ids, answers.answers, strict=True):
        votes[item][label] += 1
    labels = {
        item: min(c, key=lambda name: (-c[name], order[name]))  # most votes, then first listed
        for item, c in votes.items()
    }
    newest = sorted(labels)[-MAX_ITEMS:]
    return answers.labels, answers.modality, {item: order[labels[item]] for item in newest}


def _image(media: MediaStore, sha: str | None) -> Any:
    if sha is None:
        return np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    with Image.open(media.path_for(sha)) as img:
        small = img.convert("L").resize((IMAGE_SIDE, IMAGE_SIDE), Image.Resampling.BILINEAR)
        return np.asarray(small, dtype=np.float64)


def _features(db: Database, media: MediaStore, ids: list[int], modality: str) -> Any:
    with db.read() as s:
        rows = {
            r.id: r for r in s.execute(select(Item.id, Item.text, Item.media_sha256).where(Item.id.in_(ids)))
        }
    if modality == "text":
        return TextTfidf().fit_transform([rows[i].text or "" for i in ids])
    return ImagePixels().fit_transform([_image(media, rows[i].media_sha256) for i in ids])


def _model(modality: str, n: int) -> ClassifierMixin:
    if modality == "text":
        return LogisticRegression(max_iter=1000)
    # Each training fold holds at least half the items (two folds at the least).
    return KNeighborsClassifier(n_neighbors=max(1, min(10, n // 2 - 1)))


@dataclass
class _Ranking:
    """What a view of the queue needs: flagged items, most doubtful first, and their labels."""

    note: str | None = None
    ranked: list[tuple[int, float]] = field(default_factory=list)  # (item id, P(given label))
    given: dict[int, str] = field(default_factory=dict)
    suggested: dict[int, str] = field(default_factory=dict)


_CACHE: StateCache[_Ranking] = StateCache(entries=64)


def _rank(db: Database, media: MediaStore, project_id: int) -> _Ranking:
    names, modality, given = _current_labels(db, project_id)
    if modality not in ("text", "image"):
        return _Ranking(note=f"the label-error queue works on text and image projects, not {modality}")
    counts = Counter(given.values())
    # Classes need two examples each for stratified folds; items of rarer classes are left out.
    ids = [i for i, y in given.items() if counts[y] >= 2]
    if len(ids) < MIN_ITEMS or len({given[i] for i in ids}) < 2:
        return _Ranking(
            note=f"needs at least {MIN_ITEMS} labelled items in two or more labels (each used twice)"
        )
    y = np.array([given[i] for i in ids], dtype=np.intp)
    X = _features(db, media, ids, modality)
    proba = out_of_fold_proba(_model(modality, len(ids)), X, y, cv=5, random_state=0)
    if proba.shape[1] < len(names):  # labels above the largest code used get probability 0
        proba = np.hstack([proba, np.zeros((len(ids), len(names) - proba.shape[1]))])
    flagged = [int(k) for k in find_label_errors(y, proba, rank_by="self_confidence")]
    return _Ranking(
        ranked=[(ids[k], float(proba[k, y[k]])) for k in flagged],
        given={ids[k]: names[int(y[k])] for k in flagged},
        suggested={ids[k]: names[int(np.argmax(proba[k]))] for k in flagged},
    )


def label_error_queue(
    db: Database, media: MediaStore, project_id: int, *, limit: int = 20, offset: int = 0
) -> ReviewQueue:
    """Items whose current label the cross-validated model doubts most, most doubtful first."""
    with db.read() as s:
        state = answer_state(s, project_id)
    ranking = _CACHE.get(db, project_id, state, lambda: _rank(db, media, project_id))
    if ranking.note is not None:
        return ReviewQueue(queue="label-errors", total=0, entries=[], note=ranking.note)
    with db.read() as s:
        entries = review_entries(s, project_id, ranking.ranked[offset : offset + limit])
    for entry in entries:
        entry.given = ranking.given[entry.item.id]
        entry.suggested = ranking.suggested[entry.item.id]
    return ReviewQueue(queue="label-errors", total=len(ranking.ranked), entries=entries)
