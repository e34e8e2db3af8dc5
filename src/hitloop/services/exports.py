"""Export a project's current annotations as JSONL, CSV or Parquet, streaming.

One row per current (not superseded) annotation, oldest first, with the
columns of :data:`EXPORT_COLUMNS`. The database does the heavy lifting: for
JSONL and CSV it builds each line (``json_object`` / ``json_build_object``;
string concatenation with RFC 4180 quoting), for Parquet it hands over plain
tuples with ``meta`` and ``value`` as their stored JSON text, so no row is
decoded and re-encoded in Python. That keeps exports well above 100,000 rows
a second.

CSV quoting: every text field is quoted (``"…"`` with inner quotes doubled),
so an empty string (``""``) and a missing value (nothing) stay apart; numbers
are bare and round-trip exactly; ``skipped`` is ``True``/``False``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from hitloop.db.engine import Database
from hitloop.db.sql import Statement
from hitloop.errors import InputError
from hitloop.services.projects import get_project

__all__ = ["EXPORT_COLUMNS", "EXPORT_FORMATS", "export_parquet", "iter_export"]

EXPORT_FORMATS = ("jsonl", "csv", "parquet")
EXPORT_COLUMNS = [
    "annotation_id",
    "item_id",
    "external_id",
    "text",
    "media_sha256",
    "meta",
    "annotator",
    "label",
    "value",
    "skipped",
    "seconds",
    "created_at",
]

_FROM = (
    " FROM annotations a JOIN items i ON i.id = a.item_id JOIN users u ON u.id = a.user_id"
    " WHERE a.project_id = :p AND a.superseded_by IS NULL AND (:all_ OR a.skipped = :no)"
    " ORDER BY a.id"
)
_SQLITE_JSONL = Statement(
    "SELECT json_object('annotation_id', a.id, 'item_id', a.item_id, 'external_id', i.external_id,"
    " 'text', i.text, 'media_sha256', i.media_sha256, 'meta', json(i.meta), 'annotator', u.username,"
    " 'label', a.label, 'value', json(a.value),"
    " 'skipped', json(CASE WHEN a.skipped THEN 'true' ELSE 'false' END),"
    # SQLite prints REAL with 15 digits; 17 keep a timestamp's microseconds exact.
    " 'seconds', a.seconds, 'created_at', json(printf('%!.17g', a.created_at)))" + _FROM
)
_PG_JSONL = Statement(
    "SELECT json_build_object('annotation_id', a.id, 'item_id', a.item_id, 'external_id', i.external_id,"
    " 'text', i.text, 'media_sha256', i.media_sha256, 'meta', i.meta, 'annotator', u.username,"
    " 'label', a.label, 'value', a.value, 'skipped', a.skipped,"
    " 'seconds', a.seconds, 'created_at', a.created_at)::text" + _FROM
)


def _csv_text(column: str) -> str:
    return f"""CASE WHEN {column} IS NULL THEN '' ELSE '"' || replace({column}, '"', '""') || '"' END"""


def _csv_line(number: str, text: str, real: str) -> Statement:
    fields = [
        number.format("a.id"),
        number.format("a.item_id"),
        text.format("i.external_id"),
        text.format("i.text"),
        text.format("i.media_sha256"),
        text.format("i.meta"),
        text.format("u.username"),
        text.format("a.label"),
        text.format("a.value"),
        "CASE WHEN a.skipped THEN 'True' ELSE 'False' END",
        real.format("a.seconds"),
        real.format("a.created_at"),
    ]
    return Statement("SELECT " + " || ',' || ".join(fields) + _FROM)


# 17 significant digits round-trip a double exactly; PostgreSQL's float text
# output is already the shortest exact form.
_SQLITE_CSV = _csv_line(
    "{}", _csv_text("{0}"), "CASE WHEN {0} IS NULL THEN '' ELSE printf('%!.17g', {0}) END"
)
_PG_CSV = _csv_line("{}::text", _csv_text("{0}::text"), "coalesce({}::text, '')")
_TUPLES = Statement(
    "SELECT a.id, a.item_id, i.external_id, i.text, i.media_sha256, i.meta{pg:::text}, u.username, a.label,"
    " a.value{pg:::text}, a.skipped, a.seconds, a.created_at" + _FROM
)

CHUNK_ROWS = 2_000
Progress = Callable[[int], None]


def _params(project_id: int, include_skipped: bool) -> dict[str, Any]:
    return {"p": project_id, "all_": include_skipped, "no": False}


def iter_export(
    db: Database,
    project_id: int,
    format: str,
    *,
    include_skipped: bool = False,
    progress: Progress | None = None,
) -> Iterator[bytes]:
    """Yield the export as UTF-8 chunks (``jsonl`` or ``csv``); checks the project first."""
    if format not in ("jsonl", "csv"):
        raise InputError("streamed exports are jsonl or csv; write parquet to a file", field="format")
    get_project(db, project_id)
    params = _params(project_id, include_skipped)
    if format == "jsonl":
        return _jsonl(db, params, progress)
    return _csv(db, params, progress)


def _jsonl(db: Database, params: dict[str, Any], progress: Progress | None) -> Iterator[bytes]:
    with db.driver_read() as conn:
        statement = _PG_JSONL if conn.dialect == "postgresql" else _SQLITE_JSONL
        lines: list[str] = []
        for (line,) in statement.stream(conn, params):
            lines.append(line)
            if len(lines) >= CHUNK_ROWS:
                yield _utf8("\n".join(lines) + "\n")
                if progress is not None:
                    progress(len(lines))
                lines = []
        if lines:
            yield _utf8("\n".join(lines) + "\n")
            if progress is not None:
                progress(len(lines))


def _csv(db: Database, params: dict[str, Any], progress: Progress | None) -> Iterator[bytes]:
    yield _utf8(",".join(EXPORT_COLUMNS) + "\r\n")
    with db.driver_read() as conn:
        statement = _PG_CSV if conn.dialect == "postgresql" else _SQLITE_CSV
        lines: list[str] = []
        for (line,) in statement.stream(conn, params):
            lines.append(line)
            if len(lines) >= CHUNK_ROWS:
                yield _utf8("\r\n".join(lines) + "\r\n")
                if progress is not None:
                    progress(len(lines))
                lines = []
        if lines:
            yield _utf8("\r\n".join(lines) + "\r\n")
            if progress is not None:
                progress(len(lines))


def export_parquet(
    db: Database,
    project_id: int,
    out: str | BinaryIO,
    *,
    include_skipped: bool = False,
    progress: Progress | None = None,
    batch_rows: int = 10_000,
) -> int:
    """Write the export to a Parquet file in record batches; returns the row count.

    ``meta`` and ``value`` are JSON text columns.
    """
    from hitloop.formats.arrow import require_pyarrow

    pa, pq = require_pyarrow()
    get_project(db, project_id)
    schema = pa.schema(
        [
            ("annotation_id", pa.int64()),
            ("item_id", pa.int64()),
            ("external_id", pa.string()),
            ("text", pa.string()),
            ("media_sha256", pa.string()),
            ("meta", pa.string()),
            ("annotator", pa.string()),
            ("label", pa.string()),
            ("value", pa.string()),
            ("skipped", pa.bool_()),
            ("seconds", pa.float64()),
            ("created_at", pa.float64()),
        ]
    )
    count = 0
    with db.driver_read() as conn, pq.ParquetWriter(out, schema) as writer:
        batch: list[Any] = []
        for row in _TUPLES.stream(conn, _params(project_id, include_skipped)):
            batch.append(row)
            if len(batch) >= batch_rows:
                count += _write_batch(pa, writer, schema, batch, progress)
                batch = []
        if batch or count == 0:
            count += _write_batch(pa, writer, schema, batch, progress)
    return count


def _write_batch(pa: Any, writer: Any, schema: Any, batch: list[Any], progress: Progress | None) -> int:
    columns = list(zip(*batch, strict=True)) if batch else [()] * len(schema)
    arrays = [
        pa.array([bool(v) for v in values] if field.name == "skipped" else values, type=field.type)
        for field, values in zip(schema, columns, strict=True)
    ]
    writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    if progress is not None and batch:
        progress(len(batch))
    return len(batch)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")
