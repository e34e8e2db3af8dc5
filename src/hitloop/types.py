"""Task types, modalities and the validation of annotation values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from hitloop.errors import InputError

__all__ = ["ItemState", "Modality", "TaskType", "validate_labels", "validate_value"]

MAX_LABELS = 1000
MAX_LABEL_CHARS = 200


class TaskType(StrEnum):
    """What a person does with an item."""

    CLASSIFY = "classify"
    MULTILABEL = "multilabel"


class Modality(StrEnum):
    """What an item is."""

    TEXT = "text"
    IMAGE = "image"


class ItemState(StrEnum):
    """Where an item is in the labeling queue."""

    STAGED = "staged"  # written by an import that has not finished; invisible
    OPEN = "open"  # waiting for a person
    LEASED = "leased"  # served to one person until ``lease_until``
    DONE = "done"  # has all the answers the project needs


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


def validate_value(task: TaskType | str, labels: list[str], value: Any) -> dict[str, Any]:
    """Return the normalized annotation value or raise :class:`InputError`.

    ``classify`` takes ``{"label": name}``; ``multilabel`` takes ``{"labels": [names]}``
    (an empty list means "none of these").
    """
    task = TaskType(task)
    if not isinstance(value, dict):
        raise InputError("the value must be a JSON object", field="value")
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
