"""Read items from files and write exports, streaming.

Readers (:func:`open_reader` and the ``read_*`` functions) turn a JSONL, CSV
or Parquet file, or a folder of images, into an iterator of
:class:`ItemRecord`; a bad row raises :class:`~hitloop.errors.InputError`
naming the file, line and field. Writers stream rows out as JSONL, CSV or
Parquet. :func:`check_image` vets image bytes. Nothing here touches the
database or the web framework; pyarrow is imported only when Parquet is used.
"""

from __future__ import annotations

from hitloop.formats.csvfile import read_csv
from hitloop.formats.fields import DEFAULT_MAX_TEXT_CHARS, FieldMap
from hitloop.formats.folder import IMAGE_EXTENSIONS, list_images, read_image_folder
from hitloop.formats.images import CONTENT_TYPES, ImageInfo, check_image
from hitloop.formats.jsonl import read_jsonl
from hitloop.formats.parquet import read_parquet
from hitloop.formats.readers import FORMATS, count_records, detect_format, open_reader
from hitloop.formats.records import ItemRecord
from hitloop.formats.writers import (
    CHUNK_CHARS,
    iter_csv,
    iter_jsonl,
    write_csv,
    write_jsonl,
    write_parquet,
)

__all__ = [
    "CHUNK_CHARS",
    "CONTENT_TYPES",
    "DEFAULT_MAX_TEXT_CHARS",
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "FieldMap",
    "ImageInfo",
    "ItemRecord",
    "check_image",
    "count_records",
    "detect_format",
    "iter_csv",
    "iter_jsonl",
    "list_images",
    "open_reader",
    "read_csv",
    "read_image_folder",
    "read_jsonl",
    "read_parquet",
    "write_csv",
    "write_jsonl",
    "write_parquet",
]
