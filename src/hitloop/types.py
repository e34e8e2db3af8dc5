"""Task types, modalities and the validation of annotation values."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from hitloop.errors import InputError

__all__ = ["ItemState", "Modality", "Role", "TaskType", "validate_labels", "validate_value"]

MAX_LABELS = 1000
MAX_LABEL_CHARS = 200
MAX_BOXES = 2000
MAX_TRANSCRIPT_CHARS = 200_000
MAX_SEGMENTS = 10_000


class TaskType(StrEnum):
    """What a person does with an item."""

    CLASSIFY = "classify"
    MULTILABEL = "multilabel"
    BOXES = "boxes"
    TRANSCRIBE = "transcribe"


class Modality(StrEnum):
    """What an item is."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class ItemState(StrEnum):
    """Where an item is in the labeling queue."""

    STAGED = "staged"  # written by an import that has not finished; invisible
    OPEN = "open"  # waiting for a person
    LEASED = "leased"  # served to one person until ``lease_until`` (overlap > 1: every slot taken)
    DONE = "done"  # has all the answers the project needs
    PARTIAL = "partial"  # overlap > 1: started (answers or leases), open to more people; served first
    GOLD = "gold"  # a gold item (known answer): served to every annotator once, never done


class Role(StrEnum):
    """A person's role in a project (see hitloop.services.policy for what each may do)."""

    OWNER = "owner"
    MANAGER = "manager"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


def validate_labels(labels: Any) -> list[str]:
    """Check a project's label set: non-empty, unique, short strings."""
    if not isinstance(labels, list) or not labels:
        raise InputError("the label set must be a non-empty list of names", field="labels")
    if len(labels) > MAX_LABELS:
        raise InputError(f"at most {MAX_LABELS} labels are allowed", field="labels")
    seen: set[str] = set()
    out: list[str] = []
    for i, raw in enumerate(labels):
        if not isinstance(raw, str):
            raise InputError(f"label {i} is not a string", field=f"labels[{i}]")
        name = raw.strip()
        if not name:
            raise InputError(f"label {i} is empty", field=f"labels[{i}]")
        if len(name) > MAX_LABEL_CHARS:
            raise InputError(f"label {i} is longer than {MAX_LABEL_CHARS} characters", field=f"labels[{i}]")
        if name in seen:
            raise InputError(f"label {name!r} appears twice", field=f"labels[{i}]")
        seen.add(name)
        out.append(name)
    return out


def validate_value(
    task: TaskType | str, labels: list[str], value: Any, *, image_size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Return the normalized annotation value or raise :class:`InputError`.

    ``classify`` takes ``{"label": name}``; ``multilabel`` takes ``{"labels": [names]}``
    (an empty list means "none of these"); ``boxes`` takes
    ``{"boxes": [{"x", "y", "w", "h", "label"}]}`` in pixels of the image, whose
    ``(width, height)`` is ``image_size``.
    """
    task = TaskType(task)
    if not isinstance(value, dict):
        raise InputError("the value must be a JSON object", field="value")
    if task is TaskType.TRANSCRIBE:
        return _validate_transcript(value)
    if task is TaskType.BOXES:
        return _validate_boxes(value, labels, image_size)
    allowed = set(labels)
    if task is TaskType.CLASSIFY:
        if set(value) != {"label"}:
            raise InputError('a classify value is {"label": name}', field="value")
        label = value["label"]
        if not isinstance(label, str) or label not in allowed:
            raise InputError(f"unknown label {label!r}", field="value.label")
        return {"label": label}
    if set(value) != {"labels"}:
        raise InputError('a multilabel value is {"labels": [names]}', field="value")
    chosen = value["labels"]
    if not isinstance(chosen, list):
        raise InputError("labels must be a list", field="value.labels")
    for name in chosen:
        if not isinstance(name, str) or name not in allowed:
            raise InputError(f"unknown label {name!r}", field="value.labels")
    if len(set(chosen)) != len(chosen):
        raise InputError("a label is chosen twice", field="value.labels")
    # Keep the project's order so equal answers compare equal.
    return {"labels": [name for name in labels if name in set(chosen)]}


def _validate_transcript(value: dict[str, Any]) -> dict[str, Any]:
    """``{"text": str}``, or with ``"segments": [{"start", "end", "text"}]`` for long recordings.

    With segments, ``text`` must be their texts joined by single spaces (empty
    segments left out), so the two never disagree.
    """
    if not set(value) <= {"text", "segments"} or "text" not in value:
        raise InputError('a transcribe value is {"text": str, "segments"?: [...]}', field="value")
    text = value["text"]
    if not isinstance(text, str):
        raise InputError("the transcript must be a string", field="value.text")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise InputError(
            f"the transcript is longer than {MAX_TRANSCRIPT_CHARS:,} characters", field="value.text"
        )
    text = " ".join(text.split())
    if "segments" not in value:
        return {"text": text}
    segments = value["segments"]
    if not isinstance(segments, list) or len(segments) > MAX_SEGMENTS:
        raise InputError(f"segments must be a list of at most {MAX_SEGMENTS:,}", field="value.segments")
    out: list[dict[str, Any]] = []
    end_before = 0.0
    for i, seg in enumerate(segments):
        where = f"value.segments[{i}]"
        if not isinstance(seg, dict) or set(seg) != {"start", "end", "text"}:
            raise InputError('a segment is {"start": s, "end": s, "text": str}', field=where)
        start, end, words = seg["start"], seg["end"], seg["text"]
        numbers = (start, end)
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in numbers):
            raise InputError("start and end must be numbers of seconds", field=where)
        if not (0 <= start < end < 1e7) or start < end_before:
            raise InputError("segments need 0 <= start < end, in order, not overlapping", field=where)
        if not isinstance(words, str):
            raise InputError("a segment's text must be a string", field=f"{where}.text")
        end_before = float(end)
        out.append({"start": float(start), "end": float(end), "text": " ".join(words.split())})
    joined = " ".join(seg["text"] for seg in out if seg["text"])
    if joined != text:
        raise InputError("text must be the segments' texts joined by spaces", field="value.text")
    return {"text": text, "segments": out}


def _validate_boxes(value: dict[str, Any], labels: list[str], size: tuple[int, int] | None) -> dict[str, Any]:
    """Boxes inside the image, of positive size, with known labels; coordinates rounded to 0.01 px."""
    if set(value) != {"boxes"} or not isinstance(value["boxes"], list):
        raise InputError('a boxes value is {"boxes": [{"x", "y", "w", "h", "label"}]}', field="value")
    boxes = value["boxes"]
    if len(boxes) > MAX_BOXES:
        raise InputError(f"at most {MAX_BOXES:,} boxes per item", field="value.boxes")
    allowed = set(labels)
    width, height = size if size is not None else (float("inf"), float("inf"))
    out: list[dict[str, Any]] = []
    for i, box in enumerate(boxes):
        where = f"value.boxes[{i}]"
        if not isinstance(box, dict) or set(box) != {"x", "y", "w", "h", "label"}:
            raise InputError('a box is {"x", "y", "w", "h", "label"}', field=where)
        x, y, w, h = (box[k] for k in "xywh")
        if not all(_is_number(v) for v in (x, y, w, h)):
            raise InputError("x, y, w and h must be numbers (pixels)", field=where)
        if w <= 0 or h <= 0:
            raise InputError(f"the box has no area ({w}x{h})", field=where)
        if x < 0 or y < 0 or x + w > width + 0.01 or y + h > height + 0.01:
            raise InputError(f"the box ({x}, {y}, {w}x{h}) leaves the {width}x{height} image", field=where)
        label = box["label"]
        if not isinstance(label, str) or label not in allowed:
            raise InputError(f"unknown label {label!r}", field=f"{where}.label")
        out.append({"x": round(x, 2), "y": round(y, 2), "w": round(w, 2), "h": round(h, 2), "label": label})
    return {"boxes": out}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
