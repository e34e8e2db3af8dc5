"""Pick a reader for a path, and estimate how many records it holds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hitloop.errors import InputError
from hitloop.formats.arrow import require_pyarrow
from hitloop.formats.csvfile import read_csv
from hitloop.formats.folder import IMAGE_EXTENSIONS, list_images, read_image_folder
from hitloop.formats.jsonl import read_jsonl
from hitloop.formats.parquet import read_parquet
from hitloop.formats.records import ItemRecord
from hitloop.formats.source import StrPath, open_source

__all__ = ["FORMATS", "count_records", "detect_format", "open_reader"]

FORMATS: dict[str, Callable[..., Iterator[ItemRecord]]] = {
    "jsonl": read_jsonl,
    "csv": read_csv,
    "parquet": read_parquet,
    "folder": read_image_folder,
}
_BY_EXTENSION = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COUNT_CHUNK = 1 << 20


def detect_format(path: StrPath, format: str | None = None) -> str:
    """The format name for ``path``: ``format`` if given, else from the extension.

    A directory is ``"folder"``; extensions are ``.jsonl``/``.ndjson``,
    ``.csv`` and ``.parquet``/``.pq``, in any case.
    """
    source = Path(path)
    if format is not None:
        if format not in FORMATS:
            known = ", ".join(FORMATS)
            raise InputError(f"unknown format {format!r}; use one of {known}", file=str(path), field="format")
        return format
    if source.is_dir():
        return "folder"
    if not source.exists():
        raise InputError("no such file or folder", file=str(path))
    found = _BY_EXTENSION.get(source.suffix.lower())
    if found is None:
        known = ", ".join(sorted(_BY_EXTENSION))
        raise InputError(
            f"cannot tell the format from the extension {source.suffix!r}; use {known}, a folder of images,"
            " or name the format",
            file=str(path),
        )
    return found


def open_reader(path: StrPath, *, format: str | None = None, **kwargs: Any) -> Iterator[ItemRecord]:
    """Return the record iterator for ``path``; ``kwargs`` go to the chosen ``read_*`` function.

    JSONL, CSV and Parquet share the keyword arguments of :func:`read_jsonl`
    (Parquet adds ``batch_size``); a folder takes only ``recursive``.
    """
    return FORMATS[detect_format(path, format)](path, **kwargs)


def count_records(
    path: StrPath, format: str | None = None, *, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> int:
    """A quick estimate of the record count, for progress bars.

    JSONL counts lines (blank ones too), CSV lines minus the header (a quoted
    newline counts extra), Parquet reads the row count from the footer, and a
    folder counts its image files (or its files with ``extensions``).
    """
    kind = detect_format(path, format)
    if kind == "folder":
        return len(list_images(path, extensions=extensions))
    if kind == "parquet":
        pa, pq = require_pyarrow()
        try:
            with pq.ParquetFile(str(path)) as parquet:
                return int(parquet.metadata.num_rows)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from None
    lines = _count_lines(Path(path))
    return max(0, lines - 1) if kind == "csv" else lines


def _count_lines(path: Path) -> int:
    lines = 0
    last = b"\n"
    with open_source(path) as handle:
        while chunk := handle.read(_COUNT_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines if last == b"\n" else lines + 1
