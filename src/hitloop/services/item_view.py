"""How an item reads to the person asking: gold items look like any other below managers.

Annotators must not tell gold items from regular ones (docs/teams.md), and
neither may anyone else who cannot manage gold (reviewers, viewers). To them a
gold item reads as a regular item in the same situation would:

- one they hold reads ``leased`` with their own lease's end, as ``next`` served it;
- otherwise its state follows its answers as a regular item's would: ``done``
  once it has the project's overlap of answers, ``partial`` while started with
  overlap above 1, else ``open``; no lease time.

Anyone holding a per-person lease (overlap k > 1) on a regular item also reads
it as ``leased`` with their lease's end, so a held gold item and a held regular
item read the same there too. Owners, managers and administrators read the
item rows as stored (``GET /api/items/{id}``, their history); the review
queues show gold items disguised to everyone, reviewers included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hitloop.db.engine import Database
from hitloop.errors import NotFoundError
from hitloop.schemas import ItemOut
from hitloop.services.overlap import is_multi
from hitloop.services.queue import item_out
from hitloop.types import ItemState

__all__ = ["gold_disguise", "item_for", "items_for"]

_ROWS = (
    "SELECT i.id, i.project_id, i.external_id, i.text, i.media_sha256, i.meta, i.state, i.lease_until,"
    " i.priority, i.n_answers, p.overlap, p.overlap_max, l.until AS my_until"
    " FROM items i JOIN projects p ON p.id = i.project_id"
    " LEFT JOIN leases l ON l.item_id = i.id AND l.user_id = :u"
    " WHERE i.id IN ({ids}) AND i.state <> 'staged'"
)


def gold_disguise(n_answers: int, overlap: int, overlap_max: int) -> str:
    """The state a regular item with ``n_answers`` answers and no holds would have."""
    if n_answers >= overlap:
        return ItemState.DONE.value
    if n_answers > 0 and is_multi(overlap, overlap_max):
        return ItemState.PARTIAL.value
    return ItemState.OPEN.value


def _shown(row: Any, sees_gold: bool) -> ItemOut:
    if row.my_until is not None:
        return item_out(row, state=ItemState.LEASED.value, lease_until=row.my_until)
    if row.state == ItemState.GOLD.value and not sees_gold:
        return item_out(row, state=gold_disguise(row.n_answers, row.overlap, row.overlap_max))
    return item_out(row)


def items_for(
    s: Session, item_ids: Sequence[int], viewer_id: int | None, *, sees_gold: bool
) -> dict[int, ItemOut]:
    """The items (staged ones left out) as ``viewer_id`` reads them (None: nobody's leases), by id."""
    if not item_ids:
        return {}
    sql = text(_ROWS.replace("{ids}", ", ".join(str(int(i)) for i in item_ids)))
    return {r.id: _shown(r, sees_gold) for r in s.execute(sql, {"u": viewer_id})}


def item_for(db: Database, item_id: int, viewer_id: int, *, sees_gold: bool) -> ItemOut:
    """One item as ``viewer_id`` reads it (``GET /api/items/{id}``)."""
    with db.read() as s:
        found = items_for(s, [item_id], viewer_id, sees_gold=sees_gold)
    if item_id not in found:
        raise NotFoundError(f"item {item_id} not found", field="item_id")
    return found[item_id]
