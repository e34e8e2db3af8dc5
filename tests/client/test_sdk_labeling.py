"""The labeling calls: next, submit, history, release, and the labeling loop."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hitloop.client import Answer, Client
from hitloop.errors import ConflictError, InputError
from hitloop.schemas import AnnotationOut, ItemOut, ProjectOut


@pytest.fixture
def item_ids(sdk: Client, project: ProjectOut) -> list[int]:
    return sdk.add_items(project.id, [f"review {i}" for i in range(6)])


def test_next_submit_history(sdk: Client, project: ProjectOut, item_ids: list[int]) -> None:
    served = sdk.next(project.id, count=2)
    assert [i.id for i in served] == item_ids[:2]
    assert all(i.state == "leased" and i.lease_until is not None for i in served)
    first = sdk.submit(served[0].id, label="pos", seconds=1.5)
    second = sdk.submit(served[1].id, skip=True)
    assert isinstance(first, AnnotationOut)
    assert (first.value, first.skipped, first.seconds, first.replayed) == (
        {"label": "pos"},
        False,
        1.5,
        False,
    )
    assert (second.value, second.skipped) == (None, True)
    history = sdk.history(project.id)
    assert [(h.annotation.id, h.item.id) for h in history] == [
        (second.id, item_ids[1]),
        (first.id, item_ids[0]),
    ]
    assert len(sdk.history(project.id, limit=1)) == 1
    stats = sdk.project(project.id).stats
    assert stats is not None and (stats.labeled, stats.skipped) == (1, 1)


def test_next_returns_held_items_unless_the_client_has_them(
    sdk: Client, project: ProjectOut, item_ids: list[int]
) -> None:
    held = [i.id for i in sdk.next(project.id, count=2)]
    assert [i.id for i in sdk.next(project.id, count=2)] == held
    assert [i.id for i in sdk.next(project.id, count=1, have=held)] == [item_ids[2]]


def test_next_on_an_empty_queue(sdk: Client, project: ProjectOut) -> None:
    assert sdk.next(project.id, count=3) == []


def test_release_returns_items_to_the_queue(sdk: Client, project: ProjectOut, item_ids: list[int]) -> None:
    held = [i.id for i in sdk.next(project.id, count=3)]
    assert sdk.release(project.id, held) == 3
    assert sdk.release(project.id, held) == 0
    assert sdk.release(project.id, []) == 0
    assert sdk.item(held[0]).state == "open"


def test_multilabel_and_raw_value(sdk: Client) -> None:
    project = sdk.create_project("Topics", ["sport", "tech", "art"], task="multilabel")
    a, b = sdk.add_items(project.id, ["x", "y"])
    sdk.next(project.id, count=2)
    assert sdk.submit(a, labels={"tech", "sport"}).value == {"labels": ["sport", "tech"]}
    assert sdk.submit(b, {"labels": []}).value == {"labels": []}


@pytest.mark.parametrize(
    "kwargs",
    [{"label": "pos", "labels": ["pos"]}, {"value": {"label": "pos"}, "label": "pos"}],
    ids=["label+labels", "value+label"],
)
def test_submit_refuses_two_answers(sdk: Client, item_ids: list[int], kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError):
        sdk.submit(item_ids[0], **kwargs)  # type: ignore[arg-type]


def test_a_skip_carries_no_value(sdk: Client, item_ids: list[int]) -> None:
    with pytest.raises(InputError) as info:
        sdk.submit(item_ids[0], label="pos", skip=True)
    assert info.value.field == "value"


def test_same_client_key_records_one_annotation(
    sdk: Client, project: ProjectOut, item_ids: list[int], count_annotations: Callable[[], int]
) -> None:
    sdk.next(project.id)
    first = sdk.submit(item_ids[0], label="pos", client_key="key-0001")
    again = sdk.submit(item_ids[0], label="pos", client_key="key-0001")
    assert (again.id, again.replayed, first.replayed) == (first.id, True, False)
    assert count_annotations() == 1


def test_client_key_reused_for_another_item(sdk: Client, project: ProjectOut, item_ids: list[int]) -> None:
    sdk.next(project.id, count=2)
    sdk.submit(item_ids[0], label="pos", client_key="key-0002")
    with pytest.raises(ConflictError) as info:
        sdk.submit(item_ids[1], label="pos", client_key="key-0002")
    assert info.value.field == "client_key"


def test_generated_client_keys_differ(sdk: Client, project: ProjectOut, item_ids: list[int]) -> None:
    sdk.next(project.id)
    a = sdk.submit(item_ids[0], label="pos")
    b = sdk.submit(item_ids[0], label="neg")  # a correction supersedes the first answer
    assert a.client_key != b.client_key
    assert len(a.client_key) == 32


def test_label_loop_answers_until_the_queue_is_empty(
    sdk: Client, project: ProjectOut, item_ids: list[int]
) -> None:
    answers: dict[str, Answer] = {"review 0": "pos", "review 1": None, "review 2": {"label": "neg"}}
    seen: list[int] = []

    def label(item: ItemOut) -> Answer:
        seen.append(item.id)
        return answers.get(item.text or "", "neutral")

    assert sdk.label_loop(project.id, label, batch=4) == 6
    assert seen == item_ids
    stats = sdk.project(project.id).stats
    assert stats is not None
    assert (stats.labeled, stats.skipped, stats.distribution) == (5, 1, {"pos": 1, "neg": 1, "neutral": 3})
    assert sdk.label_loop(project.id, label) == 0


def test_label_loop_limit(sdk: Client, project: ProjectOut, item_ids: list[int]) -> None:
    assert sdk.label_loop(project.id, lambda item: "pos", batch=4, limit=5) == 5
    assert len(sdk.next(project.id, count=5)) == 1


def test_label_loop_releases_unanswered_items_when_fn_fails(
    sdk: Client, project: ProjectOut, item_ids: list[int]
) -> None:
    def label(item: ItemOut) -> Answer:
        if item.id == item_ids[1]:
            raise RuntimeError("model crashed")
        return "pos"

    with pytest.raises(RuntimeError, match="model crashed"):
        sdk.label_loop(project.id, label, batch=3)
    assert [sdk.item(i).state for i in item_ids[:3]] == ["done", "open", "open"]
