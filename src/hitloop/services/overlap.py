"""Overlap k: several people answer each item; gold items mixed into the queue.

With overlap 1 the queue keeps its fast path (the lease lives on the item
row). With overlap k > 1, or with gold items mixed in, an item can be held by
several people at once, so each hold is a row in ``leases`` (one per item and
person). An item's state then says how much room it has:

``open``     nobody has answered or holds it;
``partial``  started (answers or holds) and open to more people: served first,
             so items get completed (breadth-first) before new ones start;
``leased``   answers plus holds fill every slot;
``done``     k answers (adaptive: more, while they disagree, up to the maximum).

Slots are counted under the item's row lock (``FOR UPDATE`` on PostgreSQL, the
write turn on SQLite), so an item never has more than its target of answers
plus holds, and the ``leases`` primary key means nobody holds it twice.

Lock order, everywhere: the item row first, then its ``leases`` rows.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hitloop.db.engine import DriverConnection
from hitloop.db.sql import Statement, json_out

__all__ = [
    "AGREEMENT_KEY",
    "ITEM_COLS",
    "after_answer",
    "can_answer",
    "general_next",
    "is_multi",
    "release_leases",
    "reset_project_leases",
    "sweep_leases",
]

# The share of answers that must agree before an item is done (adaptive overlap).
AGREEMENT_KEY = "overlap_agreement"

ITEM_COLS = "id, project_id, external_id, text, media_sha256, meta, state, lease_until, priority"
_I_COLS = ", ".join(f"i.{c.strip()}" for c in ITEM_COLS.split(","))
_SERVABLE = ("partial", "open")  # breadth-first: started items before fresh ones


def is_multi(overlap: int, overlap_max: int) -> bool:
    """Do the project's items take several answers (and so per-person leases)?"""
    return max(overlap, overlap_max) > 1


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


def _state(n_answers: int, n_leases: int, target: int) -> str:
    if n_answers >= target:
        return "done"
    if n_answers + n_leases >= target:
        return "leased"
    return "partial" if n_answers + n_leases > 0 else "open"


def _target(n_answers: int, overlap: int) -> int:
    """Answers an item still in the queue needs: k, or one more while adaptive overlap asks."""
    return max(overlap, n_answers + 1)


_LEASE_COUNTS = Statement(
    "SELECT item_id, COUNT(*) AS n FROM leases WHERE item_id IN ({ids}) GROUP BY item_id"
)


def _lease_counts(conn: DriverConnection, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    sql = Statement(_LEASE_COUNTS.sql.replace("{ids}", _ids(ids)))
    return {r.item_id: r.n for r in sql.run(conn).all()}


# --- sweeping and releasing -----------------------------------------------------------

_EXPIRED = Statement("SELECT DISTINCT item_id FROM leases WHERE project_id = :p AND until < :now")
_LOCK_ITEMS = (
    "SELECT id, state, n_answers FROM items WHERE id IN ({ids}) ORDER BY id {pg:FOR UPDATE SKIP LOCKED}"
)
_SET_STATE = Statement("UPDATE items SET state = :s WHERE id = :i")


def _restate(conn: DriverConnection, rows: Sequence[Any], overlap: int) -> None:
    """Recompute the state of locked, not-done, non-gold items after their holds changed."""
    counts = _lease_counts(conn, [r.id for r in rows])
    for r in rows:
        if r.state in ("gold", "done", "staged"):
            continue
        state = _state(r.n_answers, counts.get(r.id, 0), _target(r.n_answers, overlap))
        if state != r.state:
            _SET_STATE.run(conn, {"s": state, "i": r.id})


def sweep_leases(conn: DriverConnection, project_id: int, overlap: int, now: float) -> int:
    """Drop holds that ran out and reopen their items; returns how many items were touched."""
    ids = _EXPIRED.run(conn, {"p": project_id, "now": now}).scalars()
    if not ids:
        return 0
    # Items first (the lock order), skipping any another transaction holds: next sweep gets them.
    locked = Statement(_LOCK_ITEMS.replace("{ids}", _ids(ids))).run(conn).all()
    if not locked:
        return 0
    Statement(f"DELETE FROM leases WHERE item_id IN ({_ids([r.id for r in locked])}) AND until < :now").run(
        conn, {"now": now}
    )
    _restate(conn, locked, overlap)
    return len(locked)


def release_leases(
    conn: DriverConnection, project_id: int, user_id: int, item_ids: Sequence[int], overlap: int
) -> int:
    """Give back this person's holds on these items; returns how many were released."""
    if not item_ids:
        return 0
    locked = (
        Statement(
            f"SELECT id, state, n_answers FROM items WHERE id IN ({_ids(item_ids)}) AND project_id = :p"
            " ORDER BY id {pg:FOR UPDATE}"
        )
        .run(conn, {"p": project_id})
        .all()
    )
    if not locked:
        return 0
    gone = Statement(
        f"DELETE FROM leases WHERE user_id = :u AND item_id IN ({_ids([r.id for r in locked])})"
    ).run(conn, {"u": user_id})
    _restate(conn, locked, overlap)
    return gone.rowcount


def reset_project_leases(conn: DriverConnection, project_id: int, overlap: int, overlap_max: int) -> None:
    """After the overlap changed: return every hold to the queue and restate every item."""
    multi = is_multi(overlap, overlap_max)
    Statement(
        "DELETE FROM leases WHERE project_id = :p"
        " AND item_id IN (SELECT id FROM items WHERE project_id = :p AND state <> 'gold')"
    ).run(conn, {"p": project_id})
    Statement(
        "UPDATE items SET leased_by = NULL, lease_until = NULL, state = CASE"
        " WHEN n_answers >= :k THEN 'done' WHEN n_answers > 0 AND :multi THEN 'partial' ELSE 'open' END"
        " WHERE project_id = :p AND state IN ('open', 'partial', 'leased', 'done')"
    ).run(conn, {"p": project_id, "k": overlap, "multi": multi})


# --- serving ----------------------------------------------------------------------------

_HELD = Statement(
    f"SELECT {_I_COLS} FROM leases l JOIN items i ON i.id = l.item_id"
    " WHERE l.user_id = :u AND l.project_id = :p ORDER BY i.priority DESC, i.id"
)
_HELD_SINGLE = Statement(
    f"SELECT {ITEM_COLS} FROM items WHERE project_id = :p AND state = 'leased' AND leased_by = :u"
    " ORDER BY priority DESC, id"
)
_PICK = Statement(
    "SELECT id, n_answers, state FROM items WHERE project_id = :p AND state = :s"
    " AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = items.id AND a.user_id = :u)"
    " AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item_id = items.id AND l.user_id = :u)"
    " ORDER BY priority DESC, id LIMIT :n {pg:FOR UPDATE SKIP LOCKED}"
)
_PICK_SINGLE = Statement(
    "SELECT id FROM items WHERE project_id = :p AND state = 'open'"
    " AND NOT EXISTS (SELECT 1 FROM annotations WHERE annotations.item_id = items.id"
    " AND annotations.user_id = :u)"
    " ORDER BY priority DESC, id LIMIT :n {pg:FOR UPDATE SKIP LOCKED}"
)
# Gold items in random order, so no two people meet them in the same sequence.
_PICK_GOLD = Statement(
    "SELECT id FROM items WHERE project_id = :p AND state = 'gold'"
    " AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = items.id AND a.user_id = :u)"
    " AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.item_id = items.id AND l.user_id = :u)"
    " ORDER BY random() LIMIT :n"
)
_LEASE = Statement(
    "INSERT INTO leases (item_id, user_id, project_id, until) VALUES (:i, :u, :p, :until)"
    " ON CONFLICT (item_id, user_id) DO NOTHING"
)


def _rows(conn: DriverConnection, ids: Sequence[int]) -> list[Any]:
    if not ids:
        return []
    return Statement(f"SELECT {ITEM_COLS} FROM items WHERE id IN ({_ids(ids)})").run(conn).all()


def _take_multi(
    conn: DriverConnection, project_id: int, user_id: int, n: int, overlap: int, until: float
) -> list[int]:
    taken: list[int] = []
    for state in _SERVABLE:
        if len(taken) >= n:
            break
        picked = _PICK.run(conn, {"p": project_id, "s": state, "u": user_id, "n": n - len(taken)}).all()
        counts = _lease_counts(conn, [r.id for r in picked])
        for r in picked:
            held = counts.get(r.id, 0)
            target = _target(r.n_answers, overlap)
            if r.n_answers + held >= target:  # full (a stale state): fix it and move on
                _SET_STATE.run(conn, {"s": _state(r.n_answers, held, target), "i": r.id})
                continue
            _LEASE.run(conn, {"i": r.id, "u": user_id, "p": project_id, "until": until})
            _SET_STATE.run(conn, {"s": _state(r.n_answers, held + 1, target), "i": r.id})
            taken.append(r.id)
    return taken


def _take_single(conn: DriverConnection, project_id: int, user_id: int, n: int, until: float) -> list[int]:
    picked = _PICK_SINGLE.run(conn, {"p": project_id, "u": user_id, "n": n}).scalars()
    if not picked:
        return []
    return (
        Statement(
            "UPDATE items SET state = 'leased', leased_by = :u, lease_until = :until"
            f" WHERE id IN ({_ids(picked)}) AND state = 'open' RETURNING id"
        )
        .run(conn, {"u": user_id, "until": until})
        .scalars()
    )


def _take_gold(conn: DriverConnection, project_id: int, user_id: int, n: int, until: float) -> list[int]:
    picked = _PICK_GOLD.run(conn, {"p": project_id, "u": user_id, "n": n}).scalars()
    for item_id in picked:
        _LEASE.run(conn, {"i": item_id, "u": user_id, "p": project_id, "until": until})
    return list(picked)


def general_next(
    conn: DriverConnection,
    project_id: int,
    user_id: int,
    *,
    overlap: int,
    overlap_max: int,
    gold_rate: float,
    count: int,
    have: set[int],
    max_leases: int,
    until: float,
    now: float,
    sweep: bool,
    rng: random.Random | None = None,
) -> list[Any]:
    """Next items when several people answer each item or gold items are mixed in.

    Returns item rows (held ones first); the caller renders them.
    """
    multi = is_multi(overlap, overlap_max)
    if sweep:
        sweep_leases(conn, project_id, overlap, now)
    held = _HELD.run(conn, {"u": user_id, "p": project_id}).all()
    if not multi:
        held = _HELD_SINGLE.run(conn, {"p": project_id, "u": user_id}).all() + held
    out = [r for r in held if r.id not in have][:count]
    if out:
        ids = _ids([r.id for r in out])
        Statement(f"UPDATE leases SET until = :until WHERE user_id = :u AND item_id IN ({ids})").run(
            conn, {"until": until, "u": user_id}
        )
        if not multi:
            Statement(f"UPDATE items SET lease_until = :until WHERE leased_by = :u AND id IN ({ids})").run(
                conn, {"until": until, "u": user_id}
            )
    room = min(count - len(out), max_leases - len(held))
    if room <= 0:
        return out
    draw = (rng or random).random
    n_gold = sum(1 for _ in range(room) if gold_rate > 0 and draw() < gold_rate)
    gold = _take_gold(conn, project_id, user_id, n_gold, until) if n_gold else []
    n_regular = room - len(gold)
    if multi:
        regular = _take_multi(conn, project_id, user_id, n_regular, overlap, until)
    else:
        regular = _take_single(conn, project_id, user_id, n_regular, until)
    by_id = {r.id: r for r in _rows(conn, regular + gold)}
    fresh = [by_id[i] for i in regular if i in by_id]
    # Gold items go to random places among the regular ones, unmarked.
    for item_id in gold:
        fresh.insert(int(draw() * (len(fresh) + 1)), by_id[item_id])
    return out + fresh


# --- answering -----------------------------------------------------------------------

_HOLDS = Statement("SELECT user_id FROM leases WHERE item_id = :i")
_DROP_LEASE = Statement("DELETE FROM leases WHERE item_id = :i AND user_id = :u")
_DROP_ALL = Statement("DELETE FROM leases WHERE item_id = :i")
_ANSWERS = Statement(
    "SELECT value FROM annotations WHERE item_id = :i AND superseded_by IS NULL AND skipped = :f"
)
_SETTINGS = Statement("SELECT settings FROM projects WHERE id = :p")
_UPDATE = Statement("UPDATE items SET n_answers = :n, state = :s WHERE id = :i")


def can_answer(
    conn: DriverConnection, item: Any, user_id: int, overlap: int, *, held: bool = False
) -> str | None:
    """Why this person's first answer to a locked item is refused, or None when it is welcome.

    ``held``: the caller already knows this person holds a lease on the item (no query then).
    """
    if item.state == "gold":
        return None
    if item.state == "done":
        return f"item {item.id} already has all the answers it needs"
    if held:
        return None
    holders = _HOLDS.run(conn, {"i": item.id}).scalars()
    if user_id in holders:
        return None
    if item.n_answers + len(holders) >= _target(item.n_answers, overlap):
        return f"item {item.id} is reserved by other annotators"
    return None


def _agreed(conn: DriverConnection, item_id: int, share: float) -> bool:
    values = [json_out(v) for v in _ANSWERS.run(conn, {"i": item_id, "f": False}).scalars()]
    if not values:
        return True
    counts = Counter(json.dumps(v, sort_keys=True) for v in values)
    return counts.most_common(1)[0][1] / len(values) >= share


def after_answer(
    conn: DriverConnection,
    item: Any,
    user_id: int,
    n_answers: int,
    *,
    overlap: int,
    overlap_max: int,
) -> str:
    """Update a locked multi-answer item after an answer or skip; returns its new state."""
    _DROP_LEASE.run(conn, {"i": item.id, "u": user_id})
    if item.state == "gold":
        _UPDATE.run(conn, {"n": n_answers, "s": "gold", "i": item.id})
        return "gold"
    done = n_answers >= overlap
    top = max(overlap, overlap_max)
    if done and n_answers < top:
        settings = json_out(_SETTINGS.run(conn, {"p": item.project_id}).scalar_one()) or {}
        share = float(settings.get(AGREEMENT_KEY, 1.0))
        done = _agreed(conn, item.id, share)
    if done:
        _DROP_ALL.run(conn, {"i": item.id})
        state = "done"
    else:
        holders = len(_HOLDS.run(conn, {"i": item.id}).scalars())
        state = _state(n_answers, holders, _target(n_answers, overlap))
    _UPDATE.run(conn, {"n": n_answers, "s": state, "i": item.id})
    return state
