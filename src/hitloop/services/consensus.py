"""Consensus labels: many people's answers to an item become one label with a confidence.

The project's setting ``consensus_method`` names an aggregator from
:data:`hitloop.ml.aggregation.AGGREGATORS`; without it, Dawid–Skene runs when
enough items have several answers to estimate each annotator's confusion
matrix, and majority vote otherwise. ``model-assisted`` weighs the project's
model as one more rater and needs its class probabilities (suggestions) for
every answered item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hitloop.db.engine import Database
from hitloop.db.sql import json_out
from hitloop.db.tables import Annotation, Item, Project, Suggestion, User
from hitloop.errors import InputError, NotFoundError
from hitloop.ml.aggregation import AGGREGATORS, encode_answers, make_aggregator
from hitloop.schemas import AnnotatorSkill, ConsensusItem, ConsensusOut
from hitloop.services.audit import record_event
from hitloop.types import TaskType

__all__ = [
    "DEFAULT_METHOD",
    "METHOD_KEY",
    "ProjectAnswers",
    "choose_method",
    "consensus",
    "consensus_labels",
    "current_answers",
    "iter_consensus_jsonl",
    "project_answers",
    "set_method",
]

FloatArray = npt.NDArray[np.float64]
METHOD_KEY = "consensus_method"
DEFAULT_METHOD = "auto"
# Dawid–Skene estimates a k x k confusion matrix per annotator: below this many items
# with two or more answers it overfits, and majority vote is the better guess.
MIN_SHARED_ITEMS = 20


@dataclass(frozen=True)
class ProjectAnswers:
    """A classify project's current answers as parallel lists (one entry per answer)."""

    labels: list[str]
    modality: str
    item_ids: list[int]
    user_ids: list[int]
    answers: list[str]
    annotation_ids: list[int]
    usernames: dict[int, str]

    def __len__(self) -> int:
        return len(self.answers)


def _project(s: Session, project_id: int) -> Project:
    row = s.get(Project, project_id)
    if row is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return row


def current_answers(
    s: Session, project_id: int, answer: InstrumentedAttribute[Any], *where: ColumnElement[bool]
) -> tuple[Sequence[Row[tuple[int, int, int, Any]]], dict[int, str]]:
    """A project's current (not superseded), non-skipped answers, oldest first, and who gave them.

    Each row has ``id``, ``item_id``, ``user_id`` and ``answer`` (the column
    asked for); ``where`` narrows the answers further. The second value maps
    the people who answered to their usernames.
    """
    rows = s.execute(
        select(Annotation.id, Annotation.item_id, Annotation.user_id, answer.label("answer"))
        .where(
            Annotation.project_id == project_id,
            Annotation.superseded_by.is_(None),
            Annotation.skipped.is_(False),
            *where,
        )
        .order_by(Annotation.id)
    ).all()
    user_ids = {r.user_id for r in rows}
    names = dict(s.execute(select(User.id, User.username).where(User.id.in_(user_ids))).tuples().all())
    return rows, names


def _classify_project(s: Session, project_id: int) -> Project:
    project = _project(s, project_id)
    if project.task != TaskType.CLASSIFY.value:
        raise InputError(
            f"consensus and agreement need a classify project; project {project_id} is {project.task}",
            field="task",
        )
    return project


def _collect(rows: Iterable[Any], labels: list[str], modality: str, names: dict[int, str]) -> ProjectAnswers:
    """The answers of ``rows`` (``id``, ``item_id``, ``user_id``, ``answer``), oldest first."""
    known = set(labels)
    # One answer per person and item (the latest), and only labels still in the set.
    latest = {(r.item_id, r.user_id): r for r in rows if r.answer in known}
    kept = sorted(latest.values(), key=lambda r: r.id)
    return ProjectAnswers(
        labels=labels,
        modality=modality,
        item_ids=[r.item_id for r in kept],
        user_ids=[r.user_id for r in kept],
        answers=[r.answer for r in kept],
        annotation_ids=[r.id for r in kept],
        usernames=names,
    )


def project_answers(db: Database, project_id: int) -> ProjectAnswers:
    """The current (not superseded), non-skipped answers of a classify project, oldest first."""
    with db.read() as s:
        project = _classify_project(s, project_id)
        rows, names = current_answers(s, project_id, Annotation.label, Annotation.label.is_not(None))
        labels, modality = list(project.labels), project.modality
    return _collect(rows, labels, modality, names)


def choose_method(requested: str | None, stored: str | None, answers: ProjectAnswers) -> str:
    """The aggregator to run: the request's, else the project's setting, else by data size."""
    name = requested or stored or DEFAULT_METHOD
    if name != DEFAULT_METHOD:
        if name not in AGGREGATORS:
            raise InputError(
                f"unknown consensus method {name!r}; known: auto, {', '.join(AGGREGATORS)}", field="method"
            )
        return name
    per_item: dict[int, int] = {}
    for item in answers.item_ids:
        per_item[item] = per_item.get(item, 0) + 1
    shared = sum(1 for n in per_item.values() if n >= 2)
    return "dawid-skene" if shared >= MIN_SHARED_ITEMS else "majority-vote"


def _model_probs(db: Database, project_id: int, item_ids: list[int], labels: list[str]) -> FloatArray:
    with db.read() as s:
        probs = dict(
            s.execute(select(Suggestion.item_id, Suggestion.probs).where(Suggestion.project_id == project_id))
            .tuples()
            .all()
        )
    out = np.zeros((len(item_ids), len(labels)))
    for row, item in enumerate(item_ids):
        p = json_out(probs.get(item))
        if not isinstance(p, dict):
            raise InputError(
                f"model-assisted consensus needs the model's probabilities for every answered item; "
                f"item {item} has none (train and score the project first)",
                field="method",
            )
        out[row] = [float(p.get(name, 0.0)) for name in labels]
    sums = out.sum(axis=1, keepdims=True)
    return np.where(sums > 0, out / np.where(sums > 0, sums, 1.0), 1.0 / len(labels))


def _fit(db: Database, project_id: int, answers: ProjectAnswers, name: str) -> tuple[Any, Any]:
    """(encoded answers, fitted aggregator) of the non-empty ``answers`` with the method ``name``."""
    encoded = encode_answers(answers.item_ids, answers.user_ids, answers.answers, classes=answers.labels)
    aggregator = make_aggregator(name)
    item_ids = cast(list[int], encoded.items)
    pred_probs = _model_probs(db, project_id, item_ids, answers.labels) if aggregator.uses_model else None
    aggregator.fit(encoded.answers, n_classes=len(answers.labels), pred_probs=pred_probs)
    return encoded, aggregator


def consensus(db: Database, project_id: int, *, method: str | None = None) -> ConsensusOut:
    """One label per answered item with its posterior probability, and each annotator's skill."""
    answers = project_answers(db, project_id)
    with db.read() as s:
        stored = (json_out(_project(s, project_id).settings) or {}).get(METHOD_KEY)
    name = choose_method(method, stored if isinstance(stored, str) else None, answers)
    if not answers.answers:
        return ConsensusOut(method=name, items=[], annotators=[])
    encoded, aggregator = _fit(db, project_id, answers, name)
    item_ids, worker_ids = cast(list[int], encoded.items), cast(list[int], encoded.workers)
    n_per_item = np.bincount(encoded.answers[:, 0], minlength=len(encoded.items))
    n_per_worker = np.bincount(encoded.answers[:, 1], minlength=len(encoded.workers))
    with db.read() as s:
        external = dict(
            s.execute(select(Item.id, Item.external_id).where(Item.id.in_(item_ids))).tuples().all()
        )
    items = [
        ConsensusItem(
            item_id=item,
            external_id=external.get(item),
            label=answers.labels[int(aggregator.labels_[i])],
            confidence=float(aggregator.confidence_[i]),
            answers=int(n_per_item[i]),
        )
        for i, item in enumerate(item_ids)
    ]
    skills = [
        AnnotatorSkill(
            username=answers.usernames.get(w, str(w)),
            answers=int(n_per_worker[j]),
            skill=float(aggregator.skills_[j]),
        )
        for j, w in enumerate(worker_ids)
    ]
    return ConsensusOut(method=name, items=items, annotators=skills)


def consensus_labels(
    db: Database, project_id: int, *, method: str | None = None, rows: Iterable[Any] | None = None
) -> dict[int, str]:
    """``item id -> consensus label``, e.g. as training labels.

    ``rows``: the project's current, non-skipped answers with a label, if the
    caller has read them already (``id``, ``item_id``, ``user_id``, ``answer``,
    oldest first per person and item, as :func:`current_answers` gives them);
    they are then not read again.
    """
    if rows is None:
        return {c.item_id: c.label for c in consensus(db, project_id, method=method).items}
    with db.read() as s:
        project = _classify_project(s, project_id)
        labels, modality = list(project.labels), project.modality
        stored = (json_out(project.settings) or {}).get(METHOD_KEY)
    answers = _collect(rows, labels, modality, {})
    name = choose_method(method, stored if isinstance(stored, str) else None, answers)
    if not answers.answers:
        return {}
    encoded, aggregator = _fit(db, project_id, answers, name)
    return {item: labels[int(aggregator.labels_[i])] for i, item in enumerate(encoded.items)}


def iter_consensus_jsonl(db: Database, project_id: int, *, method: str | None = None) -> Iterator[bytes]:
    """The consensus as JSON lines: item_id, external_id, label, confidence, answers, method."""
    result = consensus(db, project_id, method=method)
    for c in result.items:
        yield (json.dumps({**c.model_dump(), "method": result.method}, ensure_ascii=False) + "\n").encode()


def set_method(db: Database, actor_id: int | None, project_id: int, method: str) -> str:
    """Store the project's consensus method (``auto`` or an aggregator name)."""
    if method != DEFAULT_METHOD and method not in AGGREGATORS:
        raise InputError(
            f"unknown consensus method {method!r}; known: auto, {', '.join(AGGREGATORS)}", field="method"
        )
    with db.write() as s:
        project = _project(s, project_id)
        project.settings = {**(json_out(project.settings) or {}), METHOD_KEY: method}
        record_event(
            s, actor_id, project_id, "project.consensus_method", "project", project_id, {"method": method}
        )
    return method
