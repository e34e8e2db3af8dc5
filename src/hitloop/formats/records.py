"""The one record every reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ItemRecord"]


# Not frozen: a frozen dataclass's __init__ costs 1 us more a record, a tenth of a text import.
@dataclass(slots=True)
class ItemRecord:
    """One item read from a source, not yet stored.

    ``line`` is the 1-based line (JSONL), starting line (CSV), row (Parquet) or
    file index (image folder) in the source, for error messages. Exactly one of
    ``text`` and ``image_path`` is set. ``label`` is a label the source already
    carried; readers keep it and do not check it against a project's label set.
    """

    line: int
    text: str | None = None
    image_path: Path | None = None
    external_id: str | None = None
    meta: dict[str, object] = field(default_factory=dict)
    label: str | list[str] | None = None
