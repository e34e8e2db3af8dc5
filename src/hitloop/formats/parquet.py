"""Read Parquet in record batches (pyarrow is imported on first use)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from hitloop.formats.arrow import require_pyarrow
from hitloop.formats.fields import DEFAULT_MAX_TEXT_CHARS, FieldMap, MediaKind
from hitloop.formats.records import ItemRecord
from hitloop.formats.source import StrPath

__all__ = ["read_parquet"]


def read_parquet(
    path: StrPath,
    *,
    text_field: str = "text",
    image_field: str | None = None,
    id_field: str | None = None,
    label_field: str | None = None,
    base_dir: StrPath | None = None,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    media: MediaKind = "image",
    batch_size: int = 10_000,
) -> Iterator[ItemRecord]:
    """Yield one record per row of a Parquet file, ``batch_size`` rows in memory at a time.

    A record's ``line`` is the 1-based row number. Every named field must be a
    column (checked against the schema before any row is read). Other columns
    go into ``meta``; values JSON cannot hold are made plain: dates and times
    become ISO 8601 strings, decimals strings, durations seconds and binary
    base64 text. Errors surface while iterating.
    """
    pa, pq = require_pyarrow()
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
    if not source.is_file():
        raise fields.error("no such file" if not source.exists() else "not a regular file", None, None)
    try:
        parquet = pq.ParquetFile(str(source))
    except (pa.ArrowException, OSError) as exc:
        raise fields.error(f"not a readable Parquet file: {exc}", None, None) from None
    with parquet:
        names: list[str] = parquet.schema_arrow.names
        for name in fields.named_fields():
            if name not in names:
                found = ", ".join(repr(column) for column in names)
                raise fields.error(f"the file has no column {name!r}; the columns are {found}", None, name)
        named = set(fields.named_fields())
        plain = [
            field.name
            for field in parquet.schema_arrow
            if field.name not in named and not _json_native(pa, field.type)
        ]
        to_record = fields.to_record
        row = 0
        batches = parquet.iter_batches(batch_size=batch_size)
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise fields.error(f"cannot read the rows after this one: {exc}", row + 1, None) from None
            if batch is None:
                return
            for values in batch.to_pylist():
                row += 1
                for name in plain:
                    values[name] = _plain(values[name])
                yield to_record(values, row)


def _json_native(pa: Any, kind: Any) -> bool:
    types = pa.types
    if types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind):
        return _json_native(pa, kind.value_type)
    if types.is_struct(kind):
        return all(_json_native(pa, kind.field(i).type) for i in range(kind.num_fields))
    if types.is_dictionary(kind):
        return _json_native(pa, kind.value_type)
    checks: list[Callable[[Any], bool]] = [
        types.is_null,
        types.is_boolean,
        types.is_integer,
        types.is_floating,
        types.is_string,
        types.is_large_string,
    ]
    return any(check(kind) for check in checks)


def _plain(value: object) -> object:
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
