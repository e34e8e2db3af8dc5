"""The Python SDK: :class:`Client` talks to a hitloop server over HTTP."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx

from hitloop.client import bodies
from hitloop.client.bodies import ItemLike
from hitloop.client.loop import LoopMethods
from hitloop.client.models import Health, HistoryEntry, ImagesResult, Me, ReleaseResult
from hitloop.client.review import ReviewMethods
from hitloop.client.session import HttpSession, parse
from hitloop.client.team import TeamMethods
from hitloop.errors import HitloopError, InputError
from hitloop.schemas import (
    AddItemsResult,
    AnnotationOut,
    ImportResult,
    ItemOut,
    NextResponse,
    ProjectOut,
    TokenOut,
    UserOut,
)
from hitloop.types import Modality, TaskType

__all__ = ["DEFAULT_URL", "Answer", "Client", "ExportFormat"]

DEFAULT_URL = "http://127.0.0.1:8765"
RELEASE_BATCH = 100  # the API's limit per request
LONG_READ_TIMEOUT_S = 600.0  # imports and exports keep the server busy for a while

Answer = str | Iterable[str] | Mapping[str, Any] | None
"""What a :meth:`Client.label_loop` callback returns: a label, labels, a value, or ``None`` to skip."""

ExportFormat = Literal["jsonl", "csv", "parquet"]


class Client(LoopMethods, TeamMethods, ReviewMethods):
    """A hitloop server over HTTP.

    ``token`` defaults to the ``HITLOOP_TOKEN`` environment variable. Requests
    that are safe to repeat are retried ``retries`` times on connection errors
    and 502/503/504, waiting ``backoff * 2**attempt`` seconds in between.
    Errors raise the same :mod:`hitloop.errors` classes the server raised.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if token is None:
            token = os.environ.get("HITLOOP_TOKEN") or None
        self.url = url
        self._long_timeout = httpx.Timeout(timeout, read=max(timeout, LONG_READ_TIMEOUT_S))
        self._session = HttpSession(
            url, token, transport=transport, timeout=timeout, retries=retries, backoff=backoff
        )

    def __repr__(self) -> str:
        return f"Client(url={self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    # --- server and account -------------------------------------------------

    def health(self) -> Health:
        """Whether the server is up (needs no token)."""
        return parse(Health, self._session.call("GET", "/api/health", idempotent=True))

    def me(self) -> UserOut:
        """The user the token belongs to."""
        return parse(Me, self._session.call("GET", "/api/me", idempotent=True)).user

    def create_token(self, name: str = "token") -> TokenOut:
        """A new API token for the current user; ``.token`` holds the secret (shown once)."""
        body = self._session.call("POST", "/api/tokens", idempotent=False, json={"name": name})
        return parse(TokenOut, body)

    # --- projects -----------------------------------------------------------

    def create_project(
        self,
        name: str,
        labels: Iterable[str],
        task: TaskType | str = TaskType.CLASSIFY,
        modality: Modality | str = Modality.TEXT,
        instructions: str = "",
    ) -> ProjectOut:
        """Create a project; the server validates every field."""
        spec = {
            "name": name,
            # A bare string would become a list of characters; let the server refuse it.
            "labels": labels if isinstance(labels, str) else list(labels),
            "task": str(task),
            "modality": str(modality),
            "instructions": instructions,
        }
        return parse(ProjectOut, self._session.call("POST", "/api/projects", idempotent=False, json=spec))

    def projects(self) -> list[ProjectOut]:
        """Every project."""
        body = self._session.call("GET", "/api/projects", idempotent=True)
        return [parse(ProjectOut, p) for p in _as_list(body)]

    def project(self, project_id: int) -> ProjectOut:
        """One project, with its ``stats``."""
        return parse(ProjectOut, self._session.call("GET", f"/api/projects/{project_id}", idempotent=True))

    # --- items --------------------------------------------------------------

    def add_items(self, project_id: int, items: Iterable[ItemLike]) -> list[int]:
        """Add text items in requests of up to 1,000 (or 8 MiB); returns the new ids in order.

        Each request is one transaction, so a bad item stops the upload at its
        batch with the earlier batches kept; the error's ``field`` counts from
        the start of ``items``. Use :meth:`import_file` for all-or-nothing.
        """
        ids: list[int] = []
        offset = 0
        for batch, body in bodies.json_batches(map(bodies.item_json, items)):
            try:
                answer = self._session.call(
                    "POST", f"/api/projects/{project_id}/items", idempotent=False, json_bytes=body
                )
            except HitloopError as exc:
                bodies.shift_item_field(exc, offset)
                raise
            ids.extend(parse(AddItemsResult, answer).item_ids)
            offset += batch
        return ids

    def upload_images(self, project_id: int, paths: Iterable[str | os.PathLike[str]]) -> list[int]:
        """Upload image files (PNG, JPEG...) as items of an image project; returns the new ids.

        Files go in batches of up to 50 files or 16 MiB; each file is checked
        to be readable before the first is sent.
        """
        files = [Path(p) for p in paths]
        sizes = [bodies.file_size(p) for p in files]
        ids: list[int] = []
        for batch in bodies.size_batches(files, sizes):
            body = self._session.call(
                "POST",
                f"/api/projects/{project_id}/images",
                idempotent=False,
                files=bodies.opener("files", batch),
                timeout=self._long_timeout,
            )
            ids.extend(parse(ImagesResult, body).item_ids)
        return ids

    def import_file(
        self,
        project_id: int,
        path: str | os.PathLike[str],
        format: Literal["jsonl", "csv", "parquet"] | None = None,
        text_field: str = "text",
        id_field: str | None = None,
        gold_field: str | None = None,
    ) -> ImportResult:
        """Import a JSONL, CSV or Parquet file of text items, all or nothing.

        ``format`` defaults to the file's extension; errors name the file and line.
        Rows with a label in ``gold_field`` become gold items with that known answer.
        """
        file = Path(path)
        bodies.file_size(file)
        form = {"text_field": text_field}
        if format is not None:
            form["format"] = format
        if id_field is not None:
            form["id_field"] = id_field
        if gold_field is not None:
            form["gold_field"] = gold_field
        body = self._session.call(
            "POST",
            f"/api/projects/{project_id}/import",
            idempotent=False,
            data=form,
            files=bodies.opener("file", [file]),
            timeout=self._long_timeout,
        )
        return parse(ImportResult, body)

    def item(self, item_id: int) -> ItemOut:
        """One item."""
        return parse(ItemOut, self._session.call("GET", f"/api/items/{item_id}", idempotent=True))

    def media(self, item_id: int) -> bytes:
        """The file behind an image item (its ``media_url``)."""
        return self._session.content(f"/api/items/{item_id}/media")

    # --- labeling -----------------------------------------------------------

    def next(self, project_id: int, count: int = 1, have: Iterable[int] = ()) -> list[ItemOut]:
        """Reserve up to ``count`` items for the current user; empty when the queue is.

        Items already held come back first unless listed in ``have``, which
        also makes a retried request safe.
        """
        body = self._session.call(
            "POST",
            f"/api/projects/{project_id}/next",
            idempotent=True,
            json={"count": count, "have": list(have)},
        )
        return parse(NextResponse, body).items

    def submit(
        self,
        item_id: int,
        value: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
        labels: Iterable[str] | None = None,
        skip: bool = False,
        seconds: float | None = None,
        client_key: str | None = None,
        shown: Mapping[str, Any] | None = None,
    ) -> AnnotationOut:
        """Answer an item: give ``label`` (classify), ``labels`` (multilabel), a raw ``value``, or ``skip``.

        The request carries ``client_key`` (a fresh one when not given), so it
        is retried after a lost response without ever recording two answers;
        ``replayed`` is true on the result when the server had it already.
        ``shown`` records the suggestion the person saw (``value``,
        ``model_version_id``, ``preselected``), for lineage.
        """
        given = [v for v in (value, label, labels) if v is not None]
        if len(given) > 1:
            raise InputError("give only one of value, label and labels", field="value")
        if label is not None:
            value = {"label": label}
        elif labels is not None:
            value = {"labels": labels if isinstance(labels, str) else list(labels)}
        body: dict[str, Any] = {
            "value": dict(value) if value is not None else None,
            "skip": skip,
            "client_key": client_key or uuid.uuid4().hex,
            "seconds": seconds,
        }
        if shown is not None:
            body["shown"] = dict(shown)
        out = self._session.call("POST", f"/api/items/{item_id}/annotations", idempotent=True, json=body)
        return parse(AnnotationOut, out)

    def history(self, project_id: int, limit: int = 20) -> list[HistoryEntry]:
        """The current user's latest answers in a project, newest first."""
        body = self._session.call(
            "GET", f"/api/projects/{project_id}/history", idempotent=True, params={"limit": limit}
        )
        return [parse(HistoryEntry, h) for h in _as_list(body)]

    def release(self, project_id: int, item_ids: Iterable[int]) -> int:
        """Give reserved items back to the queue unanswered; returns how many were held."""
        released = 0
        iterator = iter(item_ids)
        while batch := list(islice(iterator, RELEASE_BATCH)):
            body = self._session.call(
                "POST", f"/api/projects/{project_id}/release", idempotent=True, json={"item_ids": batch}
            )
            released += parse(ReleaseResult, body).released
        return released

    def label_loop(
        self, project_id: int, fn: Callable[[ItemOut], Answer], *, batch: int = 5, limit: int | None = None
    ) -> int:
        """Label with ``fn`` until the queue is empty (or ``limit`` answers); returns how many were sent.

        ``fn(item)`` returns a label (str), labels (list), a value (dict) or
        ``None`` to skip. If ``fn`` raises, the unanswered items are released.
        """
        sent = 0
        while limit is None or sent < limit:
            count = batch if limit is None else min(batch, limit - sent)
            items = self.next(project_id, count=count)
            if not items:
                break
            pending = [item.id for item in items]
            try:
                for item in items:
                    self.submit(item.id, **_answer_kwargs(fn(item)))
                    pending.remove(item.id)
                    sent += 1
            except BaseException:
                # Best effort: the leases expire anyway; keep the original error.
                with suppress(HitloopError):
                    self.release(project_id, pending)
                raise
        return sent

    # --- export -------------------------------------------------------------

    def export(
        self,
        project_id: int,
        format: ExportFormat = "jsonl",
        path: str | os.PathLike[str] | None = None,
        *,
        include_skipped: bool = False,
    ) -> Path:
        """Download the project's answers to ``path`` (default ``project-<id>.<format>``).

        The file appears only once complete; returns its path.
        """
        target = Path(path) if path is not None else Path(f"project-{project_id}.{format}")
        partial = target.with_name(f".{target.name}.part")
        params = {"format": format, "include_skipped": include_skipped}
        try:
            with (
                self._session.stream(
                    f"/api/projects/{project_id}/export", params=params, timeout=self._long_timeout
                ) as response,
                partial.open("wb") as out,
            ):
                for chunk in response.iter_bytes():
                    out.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def iter_export(self, project_id: int, *, include_skipped: bool = False) -> Iterator[dict[str, Any]]:
        """Yield the project's answers as dicts, streamed; the request starts with the iteration."""
        params = {"format": "jsonl", "include_skipped": include_skipped}
        with self._session.stream(
            f"/api/projects/{project_id}/export", params=params, timeout=self._long_timeout
        ) as response:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)


def _answer_kwargs(answer: Answer) -> dict[str, Any]:
    if answer is None:
        return {"skip": True}
    if isinstance(answer, str):
        return {"label": answer}
    if isinstance(answer, Mapping):
        return {"value": answer}
    return {"labels": list(answer)}


def _as_list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise HitloopError(f"unexpected response from the server: {body!r}"[:500])
    return body
