"""The model's suggestion for items being served (read in the queue's own transaction)."""

from __future__ import annotations

from hitloop.db.engine import DriverConnection
from hitloop.db.sql import Statement, json_out
from hitloop.schemas import ItemOut, SuggestionOut

__all__ = ["attach_suggestions"]

_SUGGESTIONS = "SELECT item_id, model_version_id, value, label, confidence, explanation FROM suggestions"


def attach_suggestions(conn: DriverConnection, items: list[ItemOut]) -> list[ItemOut]:
    """Set ``suggestion`` on each item that has one: one primary-key lookup for the batch."""
    if not items:
        return items
    ids = ", ".join(str(int(i.id)) for i in items)
    rows = Statement(f"{_SUGGESTIONS} WHERE item_id IN ({ids})").run(conn).all()
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
