"""Inter-annotator agreement of a project: Fleiss' κ, Krippendorff's α, Cohen's κ per pair and per label.

Classify projects: on the labels (:func:`project_answers`); when every label
is a number the labels are a rating scale, and α is also reported with the
interval distance. Multilabel projects: each label is a yes/no question, so
the per-label coefficients and the pooled κs are over those decisions, and α
compares whole label sets with the MASI distance. A coefficient that cannot be
computed yet (too few shared items, no variation) is ``None``, which the
project page shows as "not enough data".

The project page and ``GET /api/projects/{id}/agreement`` show this on every
view, so a result is kept per database and project until a new answer, an
edit, a review or another audited change moves the project's state
(:func:`hitloop.services.state_cache.answer_state`: two index seeks per view), and
computed once more when that state has held for a few seconds (an answer committed
out of id order on PostgreSQL does not move it: :class:`~hitloop.services.state_cache.StateCache`).
The MASI α grows with the square of the number of distinct label sets; past
:data:`MASI_MAX_SETS` of them it is computed on a deterministic sample of items
(``krippendorff_alpha_items`` in the result says how many).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import scipy.sparse as sp

from hitloop.db.engine import Database
from hitloop.db.sql import json_out
from hitloop.db.tables import Annotation, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.ml.aggregation import encode_answers
from hitloop.ml.agreement import (
    PairwiseAgreement,
    binary_agreement,
    fleiss_kappa,
    fleiss_kappa_per_class,
    krippendorff_alpha,
    krippendorff_alpha_masi,
    pairwise_kappa,
    pooled_pairwise_kappa,
    rating_counts,
    reliability_data,
    sample_items_by_distinct_values,
)
from hitloop.schemas import AgreementOut, PairAgreement
from hitloop.services.consensus import current_answers, project_answers
from hitloop.services.state_cache import StateCache, answer_state
from hitloop.types import TaskType

__all__ = ["MASI_MAX_SETS", "ProjectLabelSets", "project_agreement", "project_label_sets", "rating_values"]

# The MASI α compares every pair of distinct label sets that share a label: about
# 0.4 s for 2,000 sets on one core, growing with the square. Past this many distinct
# sets (among items two or more people answered), α is computed on a deterministic
# sample of items; the κs and per-label figures always use every answer.
MASI_MAX_SETS = 2000

# Results per database and project, kept until the project's answer state moves.
_CACHE: StateCache[AgreementOut] = StateCache(entries=256)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def rating_values(labels: Sequence[str]) -> list[float] | None:
    """The labels as numbers when all of them are (a rating scale such as 1..5), else ``None``."""
    try:
        values = [float(name) for name in labels]
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in values) or len(set(values)) != len(values):
        return None
    return values


@dataclass(frozen=True)
class ProjectLabelSets:
    """A multilabel project's current answers: one label set per (item, person)."""

    labels: list[str]
    item_ids: list[int]
    user_ids: list[int]
    chosen: list[frozenset[str]]
    usernames: dict[int, str]


def project_label_sets(db: Database, project_id: int) -> ProjectLabelSets:
    """The current (not superseded), non-skipped answers of a multilabel project, oldest first.

    One answer per person and item (the latest); labels no longer in the
    project's set are dropped from the answers.
    """
    with db.read() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        if project.task != TaskType.MULTILABEL.value:
            raise InputError(f"project {project_id} is {project.task}, not multilabel", field="task")
        rows, names = current_answers(s, project_id, Annotation.value)
        labels = list(project.labels)
    known = set(labels)
    latest: dict[tuple[int, int], frozenset[str]] = {}
    for r in rows:
        value = json_out(r.answer)
        chosen = value.get("labels") if isinstance(value, dict) else None
        if isinstance(chosen, list):
            latest[(r.item_id, r.user_id)] = frozenset(c for c in chosen if isinstance(c, str) and c in known)
    keys = list(latest)
    return ProjectLabelSets(
        labels=labels,
        item_ids=[k[0] for k in keys],
        user_ids=[k[1] for k in keys],
        chosen=[latest[k] for k in keys],
        usernames=names,
    )


def _empty(task: str, labels: list[str], alpha_distance: str) -> AgreementOut:
    return AgreementOut(
        task=task,
        items=0,
        answers=0,
        annotators=[],
        fleiss_kappa=None,
        krippendorff_alpha=None,
        alpha_distance=alpha_distance,
        per_label={name: None for name in labels},
        per_label_alpha={name: None for name in labels},
        pairs=[],
        matrix=[],
    )


def _pairs(
    names: list[str], pairwise: PairwiseAgreement
) -> tuple[list[PairAgreement], list[list[float | None]]]:
    pairs = [
        PairAgreement(
            a=names[u], b=names[v], shared=int(pairwise.n_shared[u, v]), kappa=_num(pairwise.kappa[u, v])
        )
        for u in range(len(names))
        for v in range(u + 1, len(names))
        if pairwise.n_shared[u, v] > 0
    ]
    return pairs, [[_num(x) for x in row] for row in pairwise.kappa]


def project_agreement(db: Database, project_id: int) -> AgreementOut:
    """Agreement over the items that at least two people answered (kept until the answers change)."""
    with db.read() as s:
        project = s.get(Project, project_id)
        task = project.task if project is not None else None
        state = answer_state(s, project_id) if project is not None else None
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return _CACHE.get(db, (project_id,), (task, state), lambda: _compute(db, project_id, task))


def _compute(db: Database, project_id: int, task: str | None) -> AgreementOut:
    if task == TaskType.MULTILABEL.value:
        return _multilabel_agreement(db, project_id)
    return _classify_agreement(db, project_id)


def _item_rank(item_ids: Sequence[int]) -> np.ndarray:
    """A fixed pseudo-random order of items from their ids (Knuth's multiplicative hash)."""
    ids = np.asarray(item_ids, dtype=np.int64)
    return (ids * 2654435761) % (1 << 32)


def _classify_agreement(db: Database, project_id: int) -> AgreementOut:
    answers = project_answers(db, project_id)
    if not answers.answers:
        return _empty(TaskType.CLASSIFY.value, answers.labels, "nominal")
    encoded = encode_answers(answers.item_ids, answers.user_ids, answers.answers, classes=answers.labels)
    k = len(answers.labels)
    table = encoded.answers
    counts = rating_counts(table, n_classes=k)
    per_class = fleiss_kappa_per_class(counts)
    per_label_alpha = binary_agreement(counts, counts.sum(axis=1)).alpha
    names = [answers.usernames.get(w, str(w)) for w in cast(list[int], encoded.workers)]
    pairs, matrix = _pairs(names, pairwise_kappa(table, n_classes=k))
    data = reliability_data(table)
    interval = None
    scale = rating_values(answers.labels)
    if scale is not None:
        values = np.where(np.isnan(data), np.nan, np.take(scale, np.nan_to_num(data).astype(np.intp)))
        interval = _num(krippendorff_alpha(values, "interval"))
    return AgreementOut(
        task=TaskType.CLASSIFY.value,
        items=int(np.sum(counts.sum(axis=1) >= 2)),
        answers=len(answers),
        annotators=names,
        fleiss_kappa=_num(fleiss_kappa(counts)),
        krippendorff_alpha=_num(krippendorff_alpha(data, "nominal")),
        alpha_distance="nominal",
        krippendorff_alpha_interval=interval,
        per_label={name: _num(per_class[j]) for j, name in enumerate(answers.labels)},
        per_label_alpha={name: _num(per_label_alpha[j]) for j, name in enumerate(answers.labels)},
        pairs=pairs,
        matrix=matrix,
    )


def _multilabel_agreement(db: Database, project_id: int) -> AgreementOut:
    answers = project_label_sets(db, project_id)
    labels = answers.labels
    if not answers.chosen:
        return _empty(TaskType.MULTILABEL.value, labels, "masi")
    sets = list(dict.fromkeys(answers.chosen))  # in order of first answer: the codes need no sort
    encoded = encode_answers(answers.item_ids, answers.user_ids, answers.chosen, classes=sets)
    table = encoded.answers  # item, worker, label-set codes
    column = {name: j for j, name in enumerate(labels)}
    # membership[s, j]: label j is in set s (sparse: projects may have many labels)
    rows = [s for s, chosen in enumerate(sets) for _ in chosen]
    cols = [column[name] for chosen in sets for name in chosen]
    membership = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), len(labels)))
    n_items = len(encoded.items)
    per_item = np.bincount(table[:, 0], minlength=n_items)
    yes = sp.csr_matrix(
        sp.csr_matrix((np.ones(len(table)), (table[:, 0], table[:, 2])), shape=(n_items, len(sets)))
        @ membership
    )
    binary = binary_agreement(yes, per_item)
    names = [answers.usernames.get(w, str(w)) for w in cast(list[int], encoded.workers)]
    pairs, matrix = _pairs(names, pooled_pairwise_kappa(table, membership))
    sample = sample_items_by_distinct_values(table, _item_rank(cast(list[int], encoded.items)), MASI_MAX_SETS)
    alpha_table = table if sample is None else table[sample]
    return AgreementOut(
        task=TaskType.MULTILABEL.value,
        items=int(np.sum(per_item >= 2)),
        answers=len(answers.chosen),
        annotators=names,
        fleiss_kappa=_num(binary.pooled_kappa),
        krippendorff_alpha=_num(krippendorff_alpha_masi(alpha_table, membership)),
        alpha_distance="masi",
        krippendorff_alpha_items=None if sample is None else len(np.unique(alpha_table[:, 0])),
        per_label={name: _num(binary.kappa[j]) for j, name in enumerate(labels)},
        per_label_alpha={name: _num(binary.alpha[j]) for j, name in enumerate(labels)},
        pairs=pairs,
        matrix=matrix,
    )
