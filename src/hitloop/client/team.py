"""Teams from Python: members and roles, team settings (overlap, gold), gold items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hitloop.client.session import HttpSession, parse
from hitloop.errors import HitloopError
from hitloop.schemas import (
    GoldAccuracy,
    GoldItemOut,
    GoldResult,
    InviteAccepted,
    InviteOut,
    MemberOut,
    TeamSettings,
)
from hitloop.types import Role

__all__ = ["TeamMethods"]


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise HitloopError(f"unexpected response from the server: {body!r}"[:500])
    return body


class TeamMethods:
    """Methods of :class:`hitloop.Client` for teams (owners and managers)."""

    _session: HttpSession

    def members(self, project_id: int) -> list[MemberOut]:
        """The project's members with their roles."""
        body = self._session.call("GET", f"/api/projects/{project_id}/members", idempotent=True)
        return [parse(MemberOut, m) for m in _list(body)]

    def add_member(self, project_id: int, username: str, role: Role | str = Role.ANNOTATOR) -> MemberOut:
        """Add an existing user to the project with a role."""
        body = {"username": username, "role": Role(role).value}
        return parse(
            MemberOut,
            self._session.call("POST", f"/api/projects/{project_id}/members", idempotent=False, json=body),
        )

    def update_member(
        self, project_id: int, user_id: int, *, role: Role | str | None = None, paused: bool | None = None
    ) -> MemberOut:
        """Change a member's role, or pause (``paused=True``) or unpause (``paused=False``) them."""
        body: dict[str, Any] = {}
        if role is not None:
            body["role"] = Role(role).value
        if paused is not None:
            body["paused"] = paused
        path = f"/api/projects/{project_id}/members/{user_id}"
        return parse(MemberOut, self._session.call("PATCH", path, idempotent=True, json=body))

    def remove_member(self, project_id: int, user_id: int) -> None:
        """Remove someone from the project (their answers stay)."""
        self._session.call("DELETE", f"/api/projects/{project_id}/members/{user_id}", idempotent=True)

    def create_invite(
        self, project_id: int, role: Role | str = Role.ANNOTATOR, *, days: float = 7.0
    ) -> InviteOut:
        """A one-time invite link: ``token`` and ``url`` (a path on the server) are returned only now."""
        body = {"role": Role(role).value, "days": days}
        path = f"/api/projects/{project_id}/invites"
        return parse(InviteOut, self._session.call("POST", path, idempotent=False, json=body))

    def invites(self, project_id: int) -> list[InviteOut]:
        """Pending invites (not accepted, revoked or expired), without their secrets."""
        body = self._session.call("GET", f"/api/projects/{project_id}/invites", idempotent=True)
        return [parse(InviteOut, i) for i in _list(body)]

    def revoke_invite(self, project_id: int, invite_id: int) -> None:
        """Stop a pending invite from working."""
        self._session.call("DELETE", f"/api/projects/{project_id}/invites/{invite_id}", idempotent=False)

    def accept_invite(self, token: str) -> InviteAccepted:
        """Join a project with this client's account by an invite's token."""
        body = self._session.call("POST", "/api/invites/accept", idempotent=False, json={"token": token})
        return parse(InviteAccepted, body)

    def team_settings(self, project_id: int) -> TeamSettings:
        """Overlap, adaptive overlap, gold rate and thresholds, annotator visibility."""
        return parse(
            TeamSettings, self._session.call("GET", f"/api/projects/{project_id}/team", idempotent=True)
        )

    def update_team_settings(self, project_id: int, **changes: Any) -> TeamSettings:
        """Change some team settings, e.g. ``overlap=3, overlap_max=5, gold_rate=0.1``."""
        body = self._session.call("PATCH", f"/api/projects/{project_id}/team", idempotent=True, json=changes)
        return parse(TeamSettings, body)

    def mark_gold(self, project_id: int, answers: Mapping[int | str, Any]) -> int:
        """Give items known answers: ``{item_id or external_id: label or value}``; all or nothing.

        An ``int`` key is an item id, a ``str`` key an external id; a ``str``
        answer is a classify label, a ``dict`` a full annotation value.
        """
        items = []
        for key, answer in answers.items():
            value = {"label": answer} if isinstance(answer, str) else answer
            ref = {"item_id": key} if isinstance(key, int) else {"external_id": key}
            items.append({**ref, "value": value})
        body = self._session.call(
            "POST", f"/api/projects/{project_id}/gold", idempotent=True, json={"items": items}
        )
        return parse(GoldResult, body).changed

    def unmark_gold(self, project_id: int, item_ids: Iterable[int]) -> None:
        """Make gold items regular items again."""
        for item_id in item_ids:
            self._session.call("DELETE", f"/api/projects/{project_id}/gold/{item_id}", idempotent=True)

    def gold(self, project_id: int) -> list[GoldItemOut]:
        """The gold items with their known answers and how often people got them right."""
        body = self._session.call("GET", f"/api/projects/{project_id}/gold", idempotent=True)
        return [parse(GoldItemOut, g) for g in _list(body)]

    def gold_accuracy(self, project_id: int) -> list[GoldAccuracy]:
        """Each member's accuracy on gold items, and whether they are paused."""
        body = self._session.call("GET", f"/api/projects/{project_id}/gold/accuracy", idempotent=True)
        return [parse(GoldAccuracy, a) for a in _list(body)]
