"""Project agreement and consensus labels, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from hitloop.db.tables import Suggestion
from hitloop.errors import InputError, NotFoundError
from hitloop.schemas import ProjectCreate
from hitloop.services import agreement, auth, consensus, projects
from tests.agreement_setup import shared_project, submit

LABELS = ["a", "b", "c"]


@pytest.fixture
def crowd(ctx: Any) -> dict[str, Any]:
    """30 items, 4 annotators each answering every item: two careful, one sloppy, one adversarial."""
    project_id, ids = shared_project(ctx, LABELS, 30, overlap=4)
    rng = np.random.default_rng(0)
    truth = [LABELS[i % 3] for i in range(30)]
    accuracy = {"ann": 0.95, "ben": 0.9, "cy": 0.6, "dee": 0.35}
    given: dict[str, list[str]] = {}
    for name, acc in accuracy.items():
        user = auth.create_user(ctx.db, name, f"{name}-password")
        given[name] = []
        for item, right in zip(ids, truth, strict=True):
            label = right if rng.random() < acc else rng.choice([x for x in LABELS if x != right])
            given[name].append(str(label))
            submit(ctx, user.id, item, {"label": str(label)})
    return {"project": project_id, "items": ids, "truth": truth, "given": given}


def test_agreement_matches_reference_implementations(ctx: Any, crowd: dict[str, Any]) -> None:
    out = agreement.project_agreement(ctx.db, crowd["project"])
    assert out.items == 30 and out.answers == 120
    assert out.annotators == ["ann", "ben", "cy", "dee"]
    given = crowd["given"]
    expected = cohen_kappa_score(given["ann"], given["ben"])
    pair = next(p for p in out.pairs if (p.a, p.b) == ("ann", "ben"))
    assert pair.shared == 30 and pair.kappa == pytest.approx(expected, abs=1e-4)
    assert out.matrix[0][1] == pytest.approx(expected, abs=1e-4) and out.matrix[0][0] is None
    assert len(out.pairs) == 6
    assert out.fleiss_kappa is not None and 0 < out.fleiss_kappa < 1
    assert out.krippendorff_alpha is not None and abs(out.krippendorff_alpha - out.fleiss_kappa) < 0.05
    assert set(out.per_label) == set(LABELS)


def test_perfect_agreement_is_one_and_too_little_data_is_none(ctx: Any) -> None:
    project_id, ids = shared_project(ctx, LABELS, 4, overlap=2)
    u1, u2 = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("u1", "u2"))
    empty = agreement.project_agreement(ctx.db, project_id)
    assert (empty.items, empty.fleiss_kappa, empty.pairs) == (0, None, [])
    for item, label in zip(ids, ["a", "b", "c", "a"], strict=True):
        submit(ctx, u1, item, {"label": label})
        submit(ctx, u2, item, {"label": label})
    out = agreement.project_agreement(ctx.db, project_id)
    assert out.fleiss_kappa == 1.0 and out.krippendorff_alpha == 1.0
    assert out.pairs[0].kappa == 1.0


def test_consensus_recovers_the_truth_and_ranks_annotators(ctx: Any, crowd: dict[str, Any]) -> None:
    out = consensus.consensus(ctx.db, crowd["project"])
    assert out.method == "dawid-skene"  # auto: 30 items with several answers
    truth = dict(zip(crowd["items"], crowd["truth"], strict=True))
    correct = sum(c.label == truth[c.item_id] for c in out.items)
    assert correct >= 28
    assert all(0 < c.confidence <= 1 and c.answers == 4 for c in out.items)
    skill = {a.username: a.skill for a in out.annotators}
    assert skill["ann"] > skill["cy"] > skill["dee"]
    majority = consensus.consensus(ctx.db, crowd["project"], method="majority-vote")
    assert majority.method == "majority-vote" and len(majority.items) == 30


def test_small_projects_use_majority_vote_and_the_setting_is_kept(ctx: Any) -> None:
    project_id, ids = shared_project(ctx, LABELS, 3, overlap=2)
    u1, u2 = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("u1", "u2"))
    for item in ids:
        submit(ctx, u1, item, {"label": "a"})
        submit(ctx, u2, item, {"label": "b" if item == ids[0] else "a"})
    assert consensus.consensus(ctx.db, project_id).method == "majority-vote"
    consensus.set_method(ctx.db, u1, project_id, "one-coin-dawid-skene")
    assert consensus.consensus(ctx.db, project_id).method == "one-coin-dawid-skene"
    lines = [json.loads(line) for line in consensus.iter_consensus_jsonl(ctx.db, project_id)]
    assert [line["item_id"] for line in lines] == ids
    assert set(lines[0]) == {"item_id", "external_id", "label", "confidence", "answers", "method"}
    assert consensus.consensus_labels(ctx.db, project_id)[ids[1]] == "a"


def test_model_assisted_consensus_uses_suggestions(ctx: Any) -> None:
    project_id, ids = shared_project(ctx, LABELS, 3, overlap=2)
    u1, u2 = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("u1", "u2"))
    for item in ids:
        submit(ctx, u1, item, {"label": "a"})
        submit(ctx, u2, item, {"label": "b"})
    with pytest.raises(InputError, match="probabilities") as info:
        consensus.consensus(ctx.db, project_id, method="model-assisted")
    assert info.value.field == "method"
    with ctx.db.write() as s:
        for item in ids:
            s.add(
                Suggestion(
                    item_id=item,
                    project_id=project_id,
                    value={"label": "b"},
                    label="b",
                    confidence=0.9,
                    probs={"a": 0.05, "b": 0.9, "c": 0.05},
                    created_at=0.0,
                )
            )
    out = consensus.consensus(ctx.db, project_id, method="model-assisted")
    assert [c.label for c in out.items] == ["b", "b", "b"]  # the model breaks the ties


@pytest.mark.parametrize(("method", "field"), [("dawid", "method"), ("", "method")], ids=["unknown", "empty"])
def test_bad_methods_are_refused(ctx: Any, method: str, field: str) -> None:
    project_id, _ = shared_project(ctx, LABELS, 1, overlap=1)
    with pytest.raises(InputError) as info:
        consensus.set_method(ctx.db, None, project_id, method or "nope")
    assert info.value.field == field
    with pytest.raises(InputError):
        consensus.consensus(ctx.db, project_id, method=method or "nope")


def test_non_classify_projects_and_missing_projects(ctx: Any) -> None:
    owner = auth.create_user(ctx.db, "o", "owner-password")
    boxes = projects.create_project(
        ctx.db, owner.id, ProjectCreate(name="b", task="boxes", modality="image", labels=["x"])
    )
    with pytest.raises(InputError) as info:
        agreement.project_agreement(ctx.db, boxes.id)
    assert info.value.field == "task"
    with pytest.raises(InputError) as info:
        agreement.project_label_sets(ctx.db, boxes.id)
    assert info.value.field == "task"
    with pytest.raises(NotFoundError):
        agreement.project_agreement(ctx.db, 999)
    with pytest.raises(NotFoundError):
        consensus.consensus(ctx.db, 999)


def test_training_takes_the_consensus_labels(ctx: Any, crowd: dict[str, Any]) -> None:
    from hitloop.services import training

    assert training.training_labels(ctx.db, crowd["project"]) == consensus.consensus_labels(
        ctx.db, crowd["project"]
    )


def test_training_reads_the_answers_once(ctx: Any, crowd: dict[str, Any], monkeypatch: Any) -> None:
    # Every statement run, through SQLAlchemy or a driver Statement, is recorded; those
    # reading the annotations table are the answer reads.
    import re

    from sqlalchemy import event

    from hitloop.db.sql import Statement
    from hitloop.services import training

    expected = consensus.consensus_labels(ctx.db, crowd["project"])  # what training took before
    sql: list[str] = []
    real_run = Statement.run

    def run(self: Statement, conn: Any, params: Any = None) -> Any:
        sql.append(self.sql)
        return real_run(self, conn, params)

    def executed(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sql.append(statement)

    monkeypatch.setattr(Statement, "run", run)
    event.listen(ctx.db.engine, "before_cursor_execute", executed)
    try:
        labels = training.training_labels(ctx.db, crowd["project"])
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", executed)
    assert labels == expected and len(labels) == 30
    reads = [q for q in sql if re.search(r"\bFROM annotations\b", q, re.IGNORECASE)]
    assert len(reads) == 1, reads


def _people(ctx: Any, *names: str) -> list[int]:
    return [auth.create_user(ctx.db, n, f"{n}-password").id for n in names]


def test_multilabel_agreement_by_hand(ctx: Any) -> None:
    project_id, ids = shared_project(ctx, ["a", "b", "c"], 3, task="multilabel")
    empty = agreement.project_agreement(ctx.db, project_id)
    assert (empty.task, empty.items, empty.krippendorff_alpha, empty.alpha_distance) == (
        "multilabel",
        0,
        None,
        "masi",
    )
    ann, bob = _people(ctx, "ann", "bob")
    given = {ann: [["a"], ["a", "b"], ["b"]], bob: [["a"], ["a"], ["b"]]}
    for user, chosen in given.items():
        for item, labels in zip(ids, chosen, strict=True):
            submit(ctx, user, item, {"labels": labels})
    out = agreement.project_agreement(ctx.db, project_id)
    assert (out.task, out.items, out.answers, out.annotators) == ("multilabel", 3, 6, ["ann", "bob"])
    # MASI: {a,b} vs {a} is 1 - 1/2 * 2/3 = 2/3, the only disagreement: alpha = 9/14 (see test_agreement)
    assert out.krippendorff_alpha == pytest.approx(9 / 14, abs=1e-4)
    # label a: always agreed; b: item 2 split, 3 yes of 6; c: never chosen
    assert out.per_label == {"a": 1.0, "b": pytest.approx(1 / 3, abs=1e-4), "c": None}
    # alpha of b: D_o = 2 / 6, D_e = 2 * 3 * 3 / (6 * 5): alpha = 1 - 10/18
    assert out.per_label_alpha == {"a": 1.0, "b": pytest.approx(4 / 9, abs=1e-4), "c": None}
    # 3 shared items, 9 yes/no decisions each: ann says yes to 4, bob to 3, they agree on 8:
    # p_o = 8/9, p_e = 4/9 * 3/9 + 5/9 * 6/9 = 42/81, kappa = 30/39
    [pair] = out.pairs
    assert (pair.shared, pair.kappa) == (3, pytest.approx(10 / 13, abs=1e-4))
    assert out.matrix[0][1] == pair.kappa
    # Fleiss over the 9 decisions: P = 8/9, P_e = (7/18)^2 + (11/18)^2 = 170/324, kappa = 118/154
    assert out.fleiss_kappa == pytest.approx(59 / 77, abs=1e-4)
    assert out.krippendorff_alpha_interval is None


def test_rating_scales_get_interval_alpha(ctx: Any) -> None:
    project_id, ids = shared_project(ctx, ["1", "2", "3", "4", "5"], 3)
    ann, bob = _people(ctx, "ann", "bob")
    for user, ratings in ((ann, ["1", "3", "5"]), (bob, ["2", "3", "4"])):
        for item, rating in zip(ids, ratings, strict=True):
            submit(ctx, user, item, {"label": rating})
    out = agreement.project_agreement(ctx.db, project_id)
    # off by one twice: interval alpha = 1 - 4 / (120 / 5) = 5/6; nominal alpha = 1 - 4 / (28 / 5) = 2/7
    assert out.krippendorff_alpha_interval == pytest.approx(5 / 6, abs=1e-4)
    assert out.krippendorff_alpha == pytest.approx(2 / 7, abs=1e-4)
    assert agreement.rating_values(["1", "2.5", "-3"]) == [1.0, 2.5, -3.0]
    assert agreement.rating_values(["1", "two"]) is None
    assert agreement.rating_values(["1", "1.0"]) is None  # not a scale: two names, one value
    assert agreement.rating_values(["1", "nan"]) is None


def test_classify_labels_also_get_a_yes_no_alpha_each(ctx: Any, crowd: dict[str, Any]) -> None:
    out = agreement.project_agreement(ctx.db, crowd["project"])
    assert out.krippendorff_alpha_interval is None  # labels a, b, c are not numbers
    assert set(out.per_label_alpha) == set(LABELS)
    for label in LABELS:
        # for a yes/no question alpha and Fleiss' kappa differ only by a small-sample term
        assert out.per_label_alpha[label] == pytest.approx(out.per_label[label], abs=0.02)
