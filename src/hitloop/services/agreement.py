"""Inter-annotator agreement of a project: Fleiss' κ, Krippendorff's α, Cohen's κ per pair and per label.

Computed on the current answers of a classify project (:func:`project_answers`);
a coefficient that cannot be computed yet (too few shared items, no variation)
is ``None``, which the project page shows as "not enough data".
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

from hitloop.db.engine import Database
from hitloop.ml.aggregation import encode_answers
from hitloop.ml.agreement import (
    fleiss_kappa,
    fleiss_kappa_per_class,
    krippendorff_alpha,
    pairwise_kappa,
    rating_counts,
    reliability_data,
)
from hitloop.schemas import AgreementOut, PairAgreement
from hitloop.services.consensus import project_answers

__all__ = ["project_agreement"]


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def project_agreement(db: Database, project_id: int) -> AgreementOut:
    """Agreement over the items that at least two people answered."""
    answers = project_answers(db, project_id)
    if not answers.answers:
        return AgreementOut(
            items=0,
            answers=0,
            annotators=[],
            fleiss_kappa=None,
            krippendorff_alpha=None,
            per_label={name: None for name in answers.labels},
            pairs=[],
            matrix=[],
        )
    encoded = encode_answers(answers.item_ids, answers.user_ids, answers.answers, classes=answers.labels)
    k = len(answers.labels)
    table = encoded.answers
    counts = rating_counts(table, n_classes=k)
    shared_items = int(np.sum(counts.sum(axis=1) >= 2))
    per_class = fleiss_kappa_per_class(counts)
    pairwise = pairwise_kappa(table, n_classes=k)
    names = [answers.usernames.get(w, str(w)) for w in cast(list[int], encoded.workers)]
    pairs = [
        PairAgreement(
            a=names[u], b=names[v], shared=int(pairwise.n_shared[u, v]), kappa=_num(pairwise.kappa[u, v])
        )
        for u in range(len(names))
        for v in range(u + 1, len(names))
        if pairwise.n_shared[u, v] > 0
    ]
    return AgreementOut(
        items=shared_items,
        answers=len(answers),
        annotators=names,
        fleiss_kappa=_num(fleiss_kappa(counts)),
        krippendorff_alpha=_num(krippendorff_alpha(reliability_data(table), "nominal")),
        per_label={name: _num(per_class[j]) for j, name in enumerate(answers.labels)},
        pairs=pairs,
        matrix=[[_num(x) for x in row] for row in pairwise.kappa],
    )
