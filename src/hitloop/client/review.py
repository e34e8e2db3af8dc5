"""Review and quality from Python: review queues and decisions, agreement, consensus, anchoring, audit log.

Everything the review page does (list a queue, accept, fix or reject an answer)
and what the project page shows about answer quality.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from hitloop.client.session import HttpSession, parse
from hitloop.schemas import (
    AgreementOut,
    AnchoringOut,
    AuditPage,
    ConsensusItem,
    ConsensusMethod,
    ConsensusOut,
    ReviewQueue,
    ReviewResult,
)

__all__ = ["QueueName", "ReviewMethods"]

QueueName = Literal["pending", "disagreement", "label-errors"]
"""The review queues: unreviewed answers, items whose answers differ, likely label errors."""

Fix = str | Iterable[str] | Mapping[str, Any]
"""A corrected answer: a label (classify), labels (multilabel) or a full value (any task)."""


def _fix_value(value: Fix) -> dict[str, Any]:
    if isinstance(value, str):
        return {"label": value}
    if isinstance(value, Mapping):
        return dict(value)
    return {"labels": list(value)}


class ReviewMethods:
    """Methods of :class:`hitloop.Client` for reviewers (owners, managers, reviewers) and quality readers."""

    _session: HttpSession

    # --- review queues and decisions --------------------------------------

    def review_queue(
        self, project_id: int, queue: QueueName = "pending", *, limit: int = 20, offset: int = 0
    ) -> ReviewQueue:
        """One page of a review queue: ``.total`` entries in all, each an item with its current answers."""
        params = {"queue": queue, "limit": limit, "offset": offset}
        body = self._session.call("GET", f"/api/projects/{project_id}/review", idempotent=True, params=params)
        return parse(ReviewQueue, body)

    def review(
        self,
        annotation_id: int,
        action: Literal["accept", "fix", "reject"],
        *,
        value: Fix | None = None,
        note: str = "",
    ) -> ReviewResult:
        """Accept, fix (``value`` is the corrected answer) or reject one answer.

        Not retried after a broken connection: a decision the server applied
        would be refused the second time.
        """
        body: dict[str, Any] = {"action": action, "note": note}
        if value is not None:
            body["value"] = _fix_value(value)
        result = self._session.call(
            "POST", f"/api/annotations/{annotation_id}/review", idempotent=False, json=body
        )
        return parse(ReviewResult, result)

    def accept(self, annotation_id: int, *, note: str = "") -> ReviewResult:
        """Mark an answer as right."""
        return self.review(annotation_id, "accept", note=note)

    def fix(self, annotation_id: int, value: Fix, *, note: str = "") -> ReviewResult:
        """Replace an answer with yours: a label, labels, or a full value; the original is kept."""
        return self.review(annotation_id, "fix", value=value, note=note)

    def reject(self, annotation_id: int, *, note: str = "") -> ReviewResult:
        """Withdraw an answer; its item goes back to the queue for someone else."""
        return self.review(annotation_id, "reject", note=note)

    # --- quality of the answers -------------------------------------------

    def agreement(self, project_id: int) -> AgreementOut:
        """Inter-annotator agreement: Fleiss' κ, Krippendorff's α, per label and per annotator pair."""
        body = self._session.call("GET", f"/api/projects/{project_id}/agreement", idempotent=True)
        return parse(AgreementOut, body)

    def consensus(self, project_id: int, *, method: str | None = None) -> ConsensusOut:
        """One label per answered item with its confidence, and each annotator's estimated skill.

        ``method`` overrides the project's setting for this call (an aggregator name, or ``auto``).
        """
        params = {"method": method} if method is not None else None
        body = self._session.call(
            "GET", f"/api/projects/{project_id}/consensus", idempotent=True, params=params
        )
        return parse(ConsensusOut, body)

    def iter_consensus(self, project_id: int, *, method: str | None = None) -> Iterator[ConsensusItem]:
        """The consensus labels streamed as they arrive (the export), one :class:`ConsensusItem` each."""
        params = {"method": method} if method is not None else None
        with self._session.stream(f"/api/projects/{project_id}/consensus/export", params=params) as response:
            for line in response.iter_lines():
                if line:
                    yield parse(ConsensusItem, json.loads(line))

    def set_consensus_method(self, project_id: int, method: str) -> str:
        """Choose the project's aggregator (owners and managers); returns the stored name."""
        body = self._session.call(
            "PUT", f"/api/projects/{project_id}/consensus/method", idempotent=True, json={"method": method}
        )
        return parse(ConsensusMethod, body).method

    def anchoring(self, project_id: int) -> AnchoringOut:
        """How often final answers equal the model's suggestion, pre-selected or not."""
        body = self._session.call("GET", f"/api/projects/{project_id}/anchoring", idempotent=True)
        return parse(AnchoringOut, body)

    def audit(self, project_id: int, *, before: int | None = None, limit: int = 50) -> AuditPage:
        """One page of the audit log, newest first (owners); pass ``next_before`` back as ``before``."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        body = self._session.call("GET", f"/api/projects/{project_id}/audit", idempotent=True, params=params)
        return parse(AuditPage, body)
