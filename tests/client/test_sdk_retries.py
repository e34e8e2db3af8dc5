"""Retries: a lost answer never records a second annotation; unsafe requests are not repeated."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from hitloop.client import Client, ConnectionFailedError
from hitloop.errors import HitloopError
from hitloop.schemas import ProjectOut

SUBMIT = r"/api/items/\d+/annotations"
ITEMS = r"/api/projects/\d+/items"

LOST_ANSWERS = [
    httpx.ConnectError,
    httpx.ReadError,
    httpx.RemoteProtocolError,
    httpx.ReadTimeout,
    502,
    503,
    504,
]


@pytest.mark.parametrize("how", LOST_ANSWERS, ids=lambda h: h if isinstance(h, int) else h.__name__)
def test_submit_retry_after_the_server_applied_it(
    sdk: Client,
    project: ProjectOut,
    transport,  # type: ignore[no-untyped-def]
    count_annotations: Callable[[], int],
    how: type[httpx.TransportError] | int,
) -> None:
    [item_id] = sdk.add_items(project.id, ["once only"])
    sdk.next(project.id)
    transport.fail("POST", SUBMIT, how, reach_server=True)
    out = sdk.submit(item_id, label="pos")
    assert transport.count("POST", SUBMIT) == 2
    assert out.replayed  # the first attempt's annotation, found by its client_key
    assert count_annotations() == 1
    assert [h.annotation.id for h in sdk.history(project.id)] == [out.id]


def test_submit_gives_up_after_retries(
    sdk: Client,
    project: ProjectOut,
    transport,  # type: ignore[no-untyped-def]
    count_annotations: Callable[[], int],
) -> None:
    [item_id] = sdk.add_items(project.id, ["x"])
    sdk.next(project.id)
    transport.fail("POST", SUBMIT, httpx.ReadError, reach_server=True, times=4)
    with pytest.raises(ConnectionFailedError) as info:
        sdk.submit(item_id, label="pos", client_key="give-up-1")
    assert isinstance(info.value, HitloopError)
    assert transport.count("POST", SUBMIT) == 4  # the first attempt and 3 retries
    assert count_annotations() == 1
    # The same key later finishes the job without a second row.
    assert sdk.submit(item_id, label="pos", client_key="give-up-1").replayed
    assert count_annotations() == 1


def test_gateway_error_after_retries(sdk: Client, project: ProjectOut, transport) -> None:  # type: ignore[no-untyped-def]
    transport.fail("GET", r"/api/projects/\d+", 503, reach_server=False, times=4)
    with pytest.raises(ConnectionFailedError, match="HTTP 503"):
        sdk.project(project.id)


def test_reads_are_retried(sdk: Client, project: ProjectOut, transport) -> None:  # type: ignore[no-untyped-def]
    transport.fail("GET", r"/api/projects/\d+", httpx.ReadTimeout, times=2)
    assert sdk.project(project.id).id == project.id
    assert transport.count("GET", r"/api/projects/\d+") == 3


def test_next_retry_returns_the_items_leased_by_the_lost_answer(
    sdk: Client,
    project: ProjectOut,
    transport,  # type: ignore[no-untyped-def]
) -> None:
    ids = sdk.add_items(project.id, ["a", "b", "c"])
    transport.fail("POST", r"/api/projects/\d+/next", httpx.ReadError)
    assert [i.id for i in sdk.next(project.id, count=2)] == ids[:2]


def test_unsafe_request_is_not_repeated_after_it_was_sent(
    sdk: Client,
    project: ProjectOut,
    transport,  # type: ignore[no-untyped-def]
) -> None:
    transport.fail("POST", ITEMS, httpx.ReadError, reach_server=True)
    with pytest.raises(ConnectionFailedError, match="may have applied it"):
        sdk.add_items(project.id, ["a", "b"])
    assert transport.count("POST", ITEMS) == 1
    stats = sdk.project(project.id).stats
    assert stats is not None and stats.total == 2  # applied once, not twice


def test_unsafe_request_is_not_repeated_after_a_gateway_error(
    sdk: Client,
    project: ProjectOut,
    transport,  # type: ignore[no-untyped-def]
) -> None:
    transport.fail("POST", ITEMS, 504, reach_server=True)
    with pytest.raises(ConnectionFailedError, match="may have applied it"):
        sdk.add_items(project.id, ["a"])
    assert transport.count("POST", ITEMS) == 1


def test_unsafe_request_is_retried_when_it_never_left(
    sdk: Client,
    project: ProjectOut,
    transport,  # type: ignore[no-untyped-def]
) -> None:
    transport.fail("POST", ITEMS, httpx.ConnectError, reach_server=False, times=2)
    assert len(sdk.add_items(project.id, ["a", "b"])) == 2
    assert transport.count("POST", ITEMS) == 3
    stats = sdk.project(project.id).stats
    assert stats is not None and stats.total == 2


def test_uploads_reopen_their_files_on_retry(sdk: Client, transport, tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = sdk.create_project("Docs", ["a", "b"])
    source = tmp_path / "items.jsonl"
    source.write_text('{"text": "hello"}\n')
    transport.fail("POST", r"/api/projects/\d+/import", httpx.ConnectError, reach_server=False)
    assert sdk.import_file(project.id, source).created == 1


def test_unreachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    waits: list[float] = []
    with Client(
        "http://testserver", "t", transport=httpx.MockTransport(refuse), retries=2, backoff=0.25
    ) as c:
        monkeypatch.setattr(c._session, "_sleep", waits.append)
        with pytest.raises(ConnectionFailedError, match="ConnectError"):
            c.health()
    assert waits == [0.25, 0.5]


def test_retry_after_header_sets_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(
        [httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200, json={"status": "ok"})]
    )
    with Client("http://testserver", transport=httpx.MockTransport(lambda r: next(answers))) as c:
        waits: list[float] = []
        monkeypatch.setattr(c._session, "_sleep", waits.append)
        assert c.health().status == "ok"
    assert waits == [2.0]


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(500, text="<html>oops</html>"), "HTTP 500: <html>oops"),
        (httpx.Response(200, text="not json"), "did not answer JSON"),
        (httpx.Response(200, json={"state": "ok"}), "unexpected Health"),
    ],
    ids=["html-error", "not-json", "wrong-shape"],
)
def test_a_server_that_is_not_hitloop(response: httpx.Response, match: str) -> None:
    with (
        Client("http://testserver", transport=httpx.MockTransport(lambda r: response)) as c,
        pytest.raises(HitloopError, match=match) as info,
    ):
        c.health()
    assert type(info.value) is HitloopError


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="retries"):
        Client(retries=-1)
