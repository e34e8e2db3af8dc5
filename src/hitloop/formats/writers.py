"""Write rows (dicts) as JSONL, CSV or Parquet, streaming.

Rows pass through in small batches, so memory stays flat however many there
are. JSONL and CSV come in two shapes: ``write_*`` to a binary file and
``iter_*`` yielding UTF-8 chunks of about :data:`CHUNK_CHARS` characters for
an HTTP streaming response.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import islice
from pathlib import PurePath
from typing import Any, BinaryIO
from uuid import UUID

from hitloop.errors import InputError
from hitloop.formats.arrow import require_pyarrow
from hitloop.formats.source import StrPath

__all__ = ["CHUNK_CHARS", "iter_csv", "iter_jsonl", "write_csv", "write_jsonl", "write_parquet"]

Row = Mapping[str, Any]

CHUNK_CHARS = 64 * 1024
_MAX_BATCH_ROWS = 4096
_NESTED = (dict, list, tuple)


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default).encode


def _utf8(text: str) -> bytes:
    # A lone surrogate cannot be UTF-8; backslashreplace turns it into the
    # JSON escape \udcxx, so JSON output still reads back the same string.
    return text.encode("utf-8", "backslashreplace")


def _next_size(size: int, rows: int, chars: int) -> int:
    """Rows for the next chunk of about CHUNK_CHARS, judged by the last one.

    Growth is capped at double, so a run of small rows followed by large ones
    cannot make one huge chunk.
    """
    guess = CHUNK_CHARS * rows // max(1, chars)
    return max(1, min(_MAX_BATCH_ROWS, 2 * size, guess))


def _jsonl_chunks(rows: Iterable[Row]) -> Iterator[tuple[bytes, int]]:
    iterator = iter(rows)
    size = 64
    while batch := list(islice(iterator, size)):
        text = "\n".join(map(_dumps, batch))
        yield _utf8(text + "\n"), len(batch)
        size = _next_size(size, len(batch), len(text))


def iter_jsonl(rows: Iterable[Row]) -> Iterator[bytes]:
    """Yield JSON Lines (compact, UTF-8) in chunks of about 64 KB.

    Dates and times become ISO 8601 strings; decimals, UUIDs and paths strings.
    """
    for chunk, _ in _jsonl_chunks(rows):
        yield chunk


def write_jsonl(rows: Iterable[Row], out: BinaryIO) -> int:
    """Write rows as JSON Lines to a binary file; return how many were written."""
    count = 0
    for chunk, written in _jsonl_chunks(rows):
        out.write(chunk)
        count += written
    return count


def _csv_cell(value: object) -> object:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return _dumps(value)


# Cells of these exact types are converted; the rest go to the csv module as
# they are (None is written as an empty cell, numbers and bools with str()).
_CSV_CONVERT = frozenset({dict, list, tuple, dt.datetime, dt.date, dt.time})


def _csv_chunks(rows: Iterable[Row], columns: Sequence[str]) -> Iterator[tuple[bytes, int]]:
    names = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(names)
    convert = _CSV_CONVERT
    iterator = iter(rows)
    size = 64
    while batch := list(islice(iterator, size)):
        start = buffer.tell()
        writer.writerows(
            [
                [_csv_cell(value) if type(value) in convert else value for value in map(row.get, names)]
                for row in batch
            ]
        )
        written = buffer.tell() - start
        size = _next_size(size, len(batch), written)
        yield _utf8(buffer.getvalue()), len(batch)
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # only the header: no rows at all
        yield _utf8(buffer.getvalue()), 0


def iter_csv(rows: Iterable[Row], columns: Sequence[str]) -> Iterator[bytes]:
    """Yield CSV (header first, UTF-8, no BOM, CRLF line ends) in chunks of about 64 KB.

    Only ``columns`` are written, in that order; a missing key or ``None`` is
    an empty cell. Dicts and lists are JSON-encoded; dates and times ISO 8601.
    """
    for chunk, _ in _csv_chunks(rows, columns):
        yield chunk


def write_csv(rows: Iterable[Row], out: BinaryIO, columns: Sequence[str]) -> int:
    """Write rows as CSV to a binary file (see :func:`iter_csv`); return how many were written."""
    count = 0
    for chunk, written in _csv_chunks(rows, columns):
        out.write(chunk)
        count += written
    return count


def write_parquet(
    rows: Iterable[Row],
    out: StrPath | BinaryIO,
    *,
    columns: Sequence[str] | None = None,
    schema: Any = None,
    batch_size: int = 10_000,
) -> int:
    """Write rows to Parquet one record batch of ``batch_size`` rows at a time; return the count.

    With a ``schema`` (a ``pyarrow.Schema``) its columns and types are used.
    Otherwise the columns are ``columns`` (default: the first row's keys) and
    their types are inferred from the first batch; a column that is all null
    there is written as string. Dict, list and tuple values are written as
    JSON strings, except in a column the given schema declares as a list,
    struct or map. A value that does not fit its column raises
    :class:`~hitloop.errors.InputError` naming the column.
    """
    pa, pq = require_pyarrow()
    iterator = iter(rows)
    batch = list(islice(iterator, batch_size))
    arrays: list[Any] | None = None
    if schema is None:
        names = list(columns) if columns is not None else (list(batch[0]) if batch else [])
        arrays = [_arrow_column(pa, batch, name, None, 0) for name in names]
        arrays = [array.cast(pa.string()) if array.type == pa.null() else array for array in arrays]
        schema = pa.schema([pa.field(name, array.type) for name, array in zip(names, arrays, strict=True)])
    fields = list(schema)
    sink = os.fspath(out) if isinstance(out, str | os.PathLike) else out
    count = 0
    with pq.ParquetWriter(sink, schema) as writer:
        while batch:
            if arrays is None:
                arrays = [_arrow_column(pa, batch, field.name, field.type, count) for field in fields]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
            count += len(batch)
            batch = list(islice(iterator, batch_size))
            arrays = None
    return count


def _arrow_column(pa: Any, batch: list[Row], name: str, kind: Any, before: int) -> Any:
    values = [row.get(name) for row in batch]
    encode = kind is None or not pa.types.is_nested(kind)
    if encode and any(type(value) in _NESTED for value in values):
        values = [_dumps(value) if type(value) in _NESTED else value for value in values]
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        rows = f"rows {before + 1}-{before + len(batch)}"
        raise InputError(f"a value in {rows} does not fit the column {name!r}: {exc}", field=name) from None
