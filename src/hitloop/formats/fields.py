"""Turn one parsed row (a dict) into an :class:`ItemRecord`, checking its fields.

JSONL, CSV and Parquet rows all go through :class:`FieldMap`, so the three
formats accept and refuse the same things with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hitloop.errors import InputError
from hitloop.formats.records import ItemRecord

__all__ = ["DEFAULT_MAX_TEXT_CHARS", "FieldMap", "MediaKind"]

DEFAULT_MAX_TEXT_CHARS = 100_000

MediaKind = Literal["image", "audio"]
"""What the files named by ``image_field`` hold: the project's modality, for messages."""

_MEDIA_NOUNS: dict[str, str] = {"image": "image", "audio": "audio file"}

_MISSING: Any = object()


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Which fields of a row hold what, and where relative media paths start.

    If ``image_field`` is set the source is read as media files (images, or
    recordings when ``media`` is ``"audio"``; errors name them so) and
    ``text_field`` is ignored (a column of that name then lands in ``meta``
    like any other); otherwise ``text_field`` is required. ``id_field`` and ``label_field`` are
    optional per row: a missing, null or empty value gives ``None``.
    """

    file: str
    text_field: str = "text"
    image_field: str | None = None
    id_field: str | None = None
    label_field: str | None = None
    base_dir: Path | None = None
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    media: MediaKind = "image"

    def __post_init__(self) -> None:
        names = self.named_fields()
        for i, name in enumerate(names):
            if name in names[:i]:
                raise self.error(f"the field {name!r} is named for two purposes", None, name)

    @property
    def content_field(self) -> str:
        """The one required field: the image field if set, else the text field."""
        return self.image_field if self.image_field is not None else self.text_field

    def named_fields(self) -> list[str]:
        """Every field the caller named, the required one first."""
        names = [self.content_field, self.id_field, self.label_field]
        return [name for name in names if name is not None]

    def error(self, message: str, line: int | None, field: str | None) -> InputError:
        return InputError(message, file=self.file, line=line, field=field)

    def to_record(self, row: dict[str, Any], line: int) -> ItemRecord:
        """Build the record for ``row``; ``row`` itself becomes ``meta`` (it is consumed)."""
        # Runs once a row: the usual case (a non-empty string, a string id) costs one check each.
        image_field = self.image_field
        name = self.text_field if image_field is None else image_field
        value = row.pop(name, _MISSING)
        if type(value) is not str or not value:
            raise self._content_error(name, value, line)
        text: str | None = None
        image_path: Path | None = None
        if image_field is None:
            if len(value) > self.max_text_chars:
                raise self.error(
                    f"the text has {len(value):,} characters, more than the limit of {self.max_text_chars:,}",
                    line,
                    name,
                )
            text = value
        else:
            image_path = self._image_path(value, line)
        external_id = None
        if self.id_field is not None:
            external_id = row.pop(self.id_field, None)
            if type(external_id) is not str or not external_id:
                external_id = self._external_id(external_id, line)
        label = None if self.label_field is None else self._label(row.pop(self.label_field, None), line)
        return ItemRecord(line, text, image_path, external_id, row, label)

    def _content_error(self, name: str, value: object, line: int) -> InputError:
        if value is _MISSING:
            return self.error(f"the field {name!r} is missing", line, name)
        if type(value) is not str:
            return self.error(f"the field {name!r} must be a string, got {_kind(value)}", line, name)
        return self.error(f"the field {name!r} is empty", line, name)

    def _image_path(self, value: str, line: int) -> Path:
        path = Path(value)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        # is_file() follows symlinks and is False for directories, devices and FIFOs.
        if not path.is_file():
            noun = _MEDIA_NOUNS[self.media]
            raise self.error(f"the {noun} {value!r} is not an existing file ({path})", line, self.image_field)
        return path

    def _external_id(self, value: object, line: int) -> str | None:
        if value is None or value == "":
            return None
        if type(value) is str:
            return value
        if type(value) is int:
            return str(value)
        raise self.error(f"the id must be a string or an integer, got {_kind(value)}", line, self.id_field)

    def _label(self, value: object, line: int) -> str | list[str] | None:
        if value is None or value == "":
            return None
        if type(value) is str:
            return value
        if type(value) is list and all(type(item) is str for item in value):
            return value
        raise self.error(
            f"the label must be a string or a list of strings, got {_kind(value)}", line, self.label_field
        )
