"""Read JSON Lines: one JSON object per line."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

from hitloop.formats.fields import DEFAULT_MAX_TEXT_CHARS, FieldMap, MediaKind
from hitloop.formats.records import ItemRecord
from hitloop.formats.source import StrPath, open_source

__all__ = ["read_jsonl"]

try:  # orjson parses several times faster; the standard library is the fallback.
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = None  # type: ignore[assignment]


def _loads(raw: str) -> object:
    if _fast_loads is None:
        return json.loads(raw)
    try:
        return _fast_loads(raw)
    except ValueError:
        # orjson is stricter (NaN, integers past 64 bits): let the standard
        # library decide, so both accept the same files and report the same errors.
        return json.loads(raw)


def read_jsonl(
    path: StrPath,
    *,
    text_field: str = "text",
    image_field: str | None = None,
    id_field: str | None = None,
    label_field: str | None = None,
    base_dir: StrPath | None = None,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    media: MediaKind = "image",
) -> Iterator[ItemRecord]:
    """Yield one record per non-blank line of a UTF-8 JSONL file.

    Every top-level key other than the named fields goes into ``meta``.
    ``image_field`` names a field of file paths; ``media`` says what those
    files are (``"image"`` or ``"audio"``), so errors name them rightly.
    Errors (:class:`~hitloop.errors.InputError`) surface while iterating and
    name the file, the 1-based line and, where one is at fault, the field.
    """
    source = Path(path)
    fields = FieldMap(
        file=str(path),
        text_field=text_field,
        image_field=image_field,
        id_field=id_field,
        label_field=label_field,
        base_dir=source.parent if base_dir is None else Path(base_dir),
        max_text_chars=max_text_chars,
        media=media,
    )
    loads = _loads
    to_record = fields.to_record
    number = 0
    # Text mode is faster than json.loads(bytes); newline="\n" splits lines as
    # count_records does, and utf-8-sig drops a leading BOM.
    with io.TextIOWrapper(open_source(source), encoding="utf-8-sig", newline="\n") as handle:
        try:
            for number, raw in enumerate(handle, 1):
                if raw.isspace():
                    continue
                try:
                    row = loads(raw)
                except json.JSONDecodeError as exc:
                    message = f"invalid JSON: {exc.msg} at column {exc.pos + 1}"
                    raise fields.error(message, number, None) from None
                except RecursionError:
                    raise fields.error("invalid JSON: nested too deeply", number, None) from None
                if type(row) is not dict:
                    raise fields.error(f"expected a JSON object, got {type(row).__name__}", number, None)
                yield to_record(row, number)
        except UnicodeDecodeError:
            # Decoding runs ahead of the lines handed out, so only a lower bound is known.
            message = "the file is not valid UTF-8 at or after this line"
            raise fields.error(message, number + 1, None) from None
