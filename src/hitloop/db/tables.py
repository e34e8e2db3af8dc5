"""The tables. Times are UNIX seconds (float) so SQLite and PostgreSQL compare them alike."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Annotation",
    "ApiToken",
    "Base",
    "Event",
    "ImportRun",
    "Invite",
    "Item",
    "Job",
    "Lease",
    "LoginThrottle",
    "Media",
    "Membership",
    "ModelVersion",
    "Project",
    "Session",
    "Suggestion",
    "User",
]

JsonType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JsonType, list[Any]: JsonType}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Double)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Double)
    revoked_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class Session(Base):
    """A browser login. The cookie holds the secret; the row holds its hash."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    task: Mapped[str] = mapped_column(String(20))
    modality: Mapped[str] = mapped_column(String(20))
    labels: Mapped[list[Any]] = mapped_column(JsonType)
    instructions: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    # Adaptive overlap: ask more people (up to this many) while the answers disagree.
    overlap_max: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # Share of each annotator's queue served from gold items (0 = none).
    gold_rate: Mapped[float] = mapped_column(Double, default=0.0, server_default=text("0"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)


class Membership(Base):
    """A person's role in a project (roles are enforced by the teams work; owner for now)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[float] = mapped_column(Double)
    # Paused annotators get no items (e.g. low accuracy on gold items) until a manager unpauses them.
    paused_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Gold answers before this time do not count towards pausing (set when unpaused).
    gold_since: Mapped[float] = mapped_column(Double, default=0.0, server_default=text("0"))


class Invite(Base):
    """A one-time link that lets someone join a project with a role; the row holds the secret's hash."""

    __tablename__ = "invites"
    __table_args__ = (Index("ix_invites_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)
    accepted_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    accepted_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    revoked_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class Media(Base):
    """A stored file, addressed by the SHA-256 of its bytes."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Audio: length in seconds.
    duration: Mapped[float | None] = mapped_column(Double, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)


class ImportRun(Base):
    """One import. Its items stay ``staged`` (invisible) until it finishes."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20))  # running, done, failed
    created: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    started_at: Mapped[float] = mapped_column(Double)
    # Bumped after every batch; a running import whose heartbeat is old was cut short.
    heartbeat_at: Mapped[float] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        # The queue: "next item" is one seek down this index (DESIGN 4.1). Its order
        # must match ORDER BY priority DESC, id exactly, or the database sorts.
        Index("ix_items_queue", "project_id", "state", text("priority DESC"), "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(500), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    priority: Mapped[float] = mapped_column(Double, default=0.0)
    state: Mapped[str] = mapped_column(String(10))
    leased_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Double, nullable=True)
    n_answers: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="import")
    # Staged rows of an import are found through the queue index
    # (project_id, state = 'staged'), so import_id needs no index or foreign key.
    import_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A known answer (gold item), never shown to annotators.
    gold: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)


class Lease(Base):
    """One person's reservation of an item in a project with overlap > 1, or of a gold item.

    With overlap 1 the lease lives on the item row itself (``leased_by``); here an
    item can be held by several people at once, each at most once.
    """

    __tablename__ = "leases"
    __table_args__ = (
        Index("ix_leases_project_until", "project_id", "until"),
        Index("ix_leases_user", "user_id", "project_id"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    until: Mapped[float] = mapped_column(Double)


class Annotation(Base):
    """One person's answer to one item. Edits supersede; nothing is overwritten."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("user_id", "client_key", name="uq_annotations_client_key"),
        Index("ix_annotations_item_user", "item_id", "user_id"),
        Index("ix_annotations_project", "project_id", "id"),
        Index("ix_annotations_user_recent", "user_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    value: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    # The single label of a classify answer, kept apart for fast label counts.
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    client_key: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float | None] = mapped_column(Double, nullable=True)
    # Lineage: what the annotator was shown (suggestion value, model version, pre-selected or not).
    shown: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A reviewer's decision: accepted, rejected (withdrawn: superseded_by = its own id) or
    # fixed (superseded by the reviewer's answer); who decided and when.
    review: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reviewed_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)


class TranscriptEdit(Base):
    """How far a transcript is from the recognizer's draft, measured when it was submitted.

    One row per transcribe answer that had a draft; the project page sums the
    rows of current answers (services/speech.py) instead of re-comparing texts.
    """

    __tablename__ = "transcript_edits"
    __table_args__ = (Index("ix_transcript_edits_project", "project_id"),)

    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    words: Mapped[int] = mapped_column(Integer)
    word_errors: Mapped[int] = mapped_column(Integer)
    keystrokes_typed: Mapped[int] = mapped_column(Integer)
    keystrokes_corrected: Mapped[int] = mapped_column(Integer)


class Event(Base):
    """Append-only audit log: who did what to which object, and when."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    project_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[float] = mapped_column(Double)


class LoginThrottle(Base):
    """Failed logins per key (``user:<name>`` or ``addr:<ip>``) in the current window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[float] = mapped_column(Double)
    locked_until: Mapped[float] = mapped_column(Double, default=0.0)


class Job(Base):
    """Background work (DESIGN §4.4): the record; an executor does the work."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_project", "project_id", "id"),
        Index("ix_jobs_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    args: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    state: Mapped[str] = mapped_column(String(20))  # queued, running, done, failed, cancelled
    progress: Mapped[float] = mapped_column(Double, default=0.0)  # 0..1
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
    started_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class ModelVersion(Base):
    """A trained learner: what it is, what it learned from, how well it does."""

    __tablename__ = "model_versions"
    __table_args__ = (Index("ix_model_versions_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    learner: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    n_train: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    artifact: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[float] = mapped_column(Double)


class Suggestion(Base):
    """The current model's answer to one item (one row per item, replaced by each scoring)."""

    __tablename__ = "suggestions"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    model_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    value: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # The suggested classify label and its probability, apart for fast filtering.
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Double, nullable=True)
    probs: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    created_at: Mapped[float] = mapped_column(Double)
