"""Request bodies: text items in size-bounded JSON batches, image and file uploads."""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hitloop.errors import HitloopError, InputError
from hitloop.schemas import ItemIn

__all__ = [
    "IMAGE_BATCH_BYTES",
    "IMAGE_BATCH_FILES",
    "ITEM_BATCH",
    "ITEM_BATCH_BYTES",
    "ItemLike",
    "file_size",
    "item_json",
    "json_batches",
    "opener",
    "shift_item_field",
    "size_batches",
]

ITEM_BATCH = 1_000
ITEM_BATCH_BYTES = 8 * 1024 * 1024  # well under the server's default body limit
IMAGE_BATCH_FILES = 50
IMAGE_BATCH_BYTES = 16 * 1024 * 1024

ItemLike = str | ItemIn | Mapping[str, Any]
"""A text item: its text, or ``{"text", "external_id", "meta"}``."""

_ITEM_FIELD = re.compile(r"^items(?:\[(\d+)\]|\.(\d+))")


def item_json(item: ItemLike) -> Any:
    if isinstance(item, str):
        return {"text": item}
    if isinstance(item, ItemIn):
        return item.model_dump(mode="json")
    if isinstance(item, Mapping):
        return dict(item)
    return item  # the server says what is wrong with it


def json_batches(items: Iterable[Any]) -> Iterator[tuple[int, bytes]]:
    """``{"items": [...]}`` bodies of at most ITEM_BATCH items or about ITEM_BATCH_BYTES, with their sizes."""
    encoded: list[bytes] = []
    size = 0
    for item in items:
        # backslashreplace writes a lone surrogate as its JSON escape, which reads back the same.
        data = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")
        if encoded and (len(encoded) >= ITEM_BATCH or size + len(data) > ITEM_BATCH_BYTES):
            yield len(encoded), b'{"items":[' + b",".join(encoded) + b"]}"
            encoded, size = [], 0
        encoded.append(data)
        size += len(data) + 1
    if encoded:
        yield len(encoded), b'{"items":[' + b",".join(encoded) + b"]}"


def shift_item_field(exc: HitloopError, offset: int) -> None:
    """Make ``items[3].text`` of the third batch read ``items[2003].text``."""
    match = _ITEM_FIELD.match(exc.field or "")
    if match is None or exc.field is None or not offset:
        return
    if match.group(1) is not None:
        head = f"items[{int(match.group(1)) + offset}]"
    else:
        head = f"items.{int(match.group(2)) + offset}"
    exc.field = head + exc.field[match.end() :]


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None


def size_batches(files: list[Path], sizes: list[int]) -> Iterator[list[Path]]:
    batch: list[Path] = []
    total = 0
    for path, size in zip(files, sizes, strict=True):
        if batch and (len(batch) >= IMAGE_BATCH_FILES or total + size > IMAGE_BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += size
    if batch:
        yield batch


def opener(field: str, paths: list[Path]) -> Callable[[ExitStack], list[tuple[str, tuple[str, Any, str]]]]:
    """A multipart body that reopens its files on every attempt."""

    def open_files(stack: ExitStack) -> list[tuple[str, tuple[str, Any, str]]]:
        parts = []
        for path in paths:
            try:
                handle = stack.enter_context(path.open("rb"))
            except OSError as exc:
                raise InputError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            parts.append((field, (path.name, handle, content_type)))
        return parts

    return open_files
