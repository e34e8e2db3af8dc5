"""Fixtures that write small sources and images into ``tmp_path``."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

MakeSource = Callable[..., Path]
MakeImage = Callable[..., Path]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


@pytest.fixture
def make_source(tmp_path: Path) -> MakeSource:
    """``make_source(fmt, rows, name="items")`` writes rows as jsonl, csv or parquet.

    Written with json, csv and pyarrow directly, so reader tests do not lean
    on hitloop's own writers.
    """

    def make(fmt: str, rows: list[dict[str, Any]], name: str = "items") -> Path:
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        elif fmt == "csv":
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=_columns(rows))
                writer.writeheader()
                writer.writerows(rows)
        elif fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(rows), path)
        else:
            raise AssertionError(fmt)
        return path

    return make


@pytest.fixture
def make_image(tmp_path: Path) -> MakeImage:
    """``make_image("cats/a.png", size=(4, 3))`` saves a small image; the format follows the extension."""

    def make(relative: str, size: tuple[int, int] = (4, 3)) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (200, 30, 30)).save(path)
        return path

    return make
