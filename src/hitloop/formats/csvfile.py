"""Read CSV with a header row (named ``csvfile`` so it does not shadow :mod:`csv`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from hitloop.formats.fields import DEFAULT_MAX_TEXT_CHARS, FieldMap, MediaKind
from hitloop.formats.records import ItemRecord
from hitloop.formats.source import StrPath, open_source

__all__ = ["read_csv"]


def read_csv(
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
    """Yield one record per data row of a UTF-8 CSV file (a BOM is allowed).

    The header is line 1. A record's ``line`` is the physical line its row
    starts on, so a quoted newline inside a cell pushes later rows down, as
    an editor shows them. Blank lines are skipped; a row with more or fewer
    cells than the header, or a quote left open, is an error. Every named
    field must be a column; the other columns go into ``meta`` as strings.
    Cells longer than :func:`csv.field_size_limit` (131,072 characters by
    default) are refused. Errors surface while iterating.
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
    to_record = fields.to_record
    with io.TextIOWrapper(open_source(source), encoding="utf-8-sig", newline="") as handle:
        # The row-level reader (what DictReader wraps) tells where each row starts.
        reader = csv.reader(handle, strict=True)
        end = 0
        try:
            header = next(reader, None)
            if header is None:
                raise fields.error("the file is empty; expected a header row", 1, fields.content_field)
            _check_header(fields, header)
            width = len(header)
            end = reader.line_num
            for cells in reader:
                start, end = end + 1, reader.line_num
                if not cells:
                    continue
                if len(cells) != width:
                    raise fields.error(f"the row has {len(cells)} cells, the header has {width}", start, None)
                yield to_record(dict(zip(header, cells, strict=True)), start)
        except csv.Error as exc:
            raise fields.error(f"invalid CSV: {exc}", end + 1, None) from None
        except UnicodeDecodeError:
            raise fields.error("the file is not valid UTF-8 at or after this line", end + 1, None) from None


def _check_header(fields: FieldMap, header: list[str]) -> None:
    for name in fields.named_fields():
        if name not in header:
            found = ", ".join(repr(column) for column in header)
            raise fields.error(f"the header has no column {name!r}; the columns are {found}", 1, name)
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise fields.error(f"the header names the column {column!r} twice", 1, column)
        seen.add(column)
