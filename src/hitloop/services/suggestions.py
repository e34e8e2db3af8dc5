"""The model's suggestion for items being served (read in the queue's own transaction)."""

from __future__ import annotations

from typing import Any

from hitloop.db.engine import DriverConnection
from hitloop.db.sql import Statement, json_out
from hitloop.schemas import ItemOut, SuggestionOut

__all__ = ["attach_suggestions", "suggestion_out"]

_SUGGESTION = Statement(
    "SELECT model_version_id, value, label, confidence, explanation FROM suggestions WHERE item_id = :i"
)


def suggestion_out(
    model_version_id: int, value: Any, label: str | None, confidence: float | None, explanation: Any
) -> SuggestionOut:
    """A suggestion row's columns as served: ``value`` and ``explanation`` are stored JSON."""
    return SuggestionOut(
        model_version_id=model_version_id,
        value=json_out(value),
        label=label,
        confidence=confidence,
        explanation=json_out(explanation),
    )


def attach_suggestions(conn: DriverConnection, items: list[ItemOut]) -> list[ItemOut]:
    """Set ``suggestion`` on each item that has one: one primary-key lookup per item.

    One fixed statement (prepared once, cached by the driver) rather than an
    ``IN`` list whose text changes with every batch.
    """
    for item in items:
        r = _SUGGESTION.run(conn, {"i": item.id}).first()
        if r is not None:
            item.suggestion = suggestion_out(
                r.model_version_id, r.value, r.label, r.confidence, r.explanation
            )
    return items
