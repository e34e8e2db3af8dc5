"""The model's suggestion for items being served (read in the queue's own transaction)."""

from __future__ import annotations

from hitloop.db.engine import DriverConnection
from hitloop.db.sql import Statement, json_out
from hitloop.schemas import ItemOut, SuggestionOut

__all__ = ["attach_suggestions"]

_SUGGESTION = Statement(
    "SELECT item_id, model_version_id, value, label, confidence, explanation FROM suggestions"
    " WHERE item_id = :i"
)


def attach_suggestions(conn: DriverConnection, items: list[ItemOut]) -> list[ItemOut]:
    """Set ``suggestion`` on each item that has one: one primary-key lookup per item.

    One fixed statement (prepared once, cached by the driver) rather than an
    ``IN`` list whose text changes with every batch.
    """
    if not items:
        return items
    rows = [row for item in items if (row := _SUGGESTION.run(conn, {"i": item.id}).first()) is not None]
    if not rows:
        return items
    by_item = {r.item_id: r for r in rows}
    for item in items:
        r = by_item.get(item.id)
        if r is not None:
            item.suggestion = SuggestionOut(
                model_version_id=r.model_version_id,
                value=json_out(r.value),
                label=r.label,
                confidence=r.confidence,
                explanation=json_out(r.explanation),
            )
    return items
