"""Wire schemas: the JSON bodies of the HTTP API.

Shared by the server (``hitloop.api``) and the SDK (``hitloop.client``); this
module imports nothing but pydantic and :mod:`hitloop.types`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hitloop.types import Modality, Role, TaskType

__all__ = [
    "MAX_ID",
    "AddItemsRequest",
    "AddItemsResult",
    "AgreementOut",
    "AnchoringGroup",
    "AnchoringOut",
    "AnnotationIn",
    "AnnotationOut",
    "AnnotatorSkill",
    "AudioOut",
    "AuditEvent",
    "AuditPage",
    "ConsensusItem",
    "ConsensusMethod",
    "ConsensusOut",
    "GoldAccuracy",
    "GoldItemOut",
    "GoldMark",
    "GoldRequest",
    "GoldResult",
    "GoldUnmark",
    "Health",
    "HistoryEntry",
    "ImagesResult",
    "ImportResult",
    "InviteAccept",
    "InviteAccepted",
    "InviteCreate",
    "InviteOut",
    "ItemIn",
    "ItemOut",
    "JobOut",
    "JobRequest",
    "LearningCurvePoint",
    "LoginRequest",
    "LoopSettings",
    "LoopSettingsUpdate",
    "Me",
    "MemberIn",
    "MemberOut",
    "MemberUpdate",
    "ModelVersionOut",
    "ModelsOut",
    "NextRequest",
    "NextResponse",
    "ObjectId",
    "PairAgreement",
    "ProjectCreate",
    "ProjectOut",
    "ProjectStats",
    "ReleaseRequest",
    "ReleaseResult",
    "ReviewAnswer",
    "ReviewDecision",
    "ReviewEntry",
    "ReviewQueue",
    "ReviewResult",
    "ShownIn",
    "SuggestionOut",
    "TeamSettings",
    "TeamSettingsUpdate",
    "TokenCreate",
    "TokenOut",
    "TranscriptStats",
    "UserCreate",
    "UserOut",
]


# Ids are 32-bit INTEGER columns on PostgreSQL: a larger number names no object and
# must be refused as input, not sent to the database (where it overflows).
MAX_ID = 2**31 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _refuse_nul(value: Any, where: str) -> None:
    """PostgreSQL text and JSONB cannot hold U+0000; refuse it in any string of a request."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where or 'text'}: the NUL character (U+0000) is not allowed in text")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _refuse_nul(key, where)
            _refuse_nul(inner, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list | tuple):
        for i, inner in enumerate(value):
            _refuse_nul(inner, f"{where}[{i}]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _refuse_nul(data, "")
        return data


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class UserCreate(_Strict):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=1000)
    is_admin: bool = False


class UserOut(BaseModel):
    id: int
    username: str
    is_admin: bool


class TokenCreate(_Strict):
    name: str = Field(default="token", min_length=1, max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    token: str | None = Field(default=None, description="The secret; returned once, at creation.")


class ProjectCreate(_Strict):
    name: str = Field(min_length=1, max_length=200)
    # Enums arrive as strings in JSON, so they alone are validated leniently.
    task: TaskType = Field(default=TaskType.CLASSIFY, strict=False)
    modality: Modality = Field(default=Modality.TEXT, strict=False)
    labels: list[str]
    instructions: str = Field(default="", max_length=20_000)


class ProjectStats(BaseModel):
    total: int
    labeled: int
    skipped: int
    annotations: int
    distribution: dict[str, int]
    # None: the counts are current. Else when they were taken: the project changed since, and a
    # big project's counts are reused for a short while (services/project_stats.py).
    as_of: datetime | None = None


class ProjectOut(BaseModel):
    id: int
    name: str
    task: TaskType
    modality: Modality
    labels: list[str]
    instructions: str
    created_at: datetime
    stats: ProjectStats | None = None


class ItemIn(_Strict):
    text: str | None = None
    external_id: str | None = Field(default=None, max_length=500)
    meta: dict[str, Any] = Field(default_factory=dict)


class AddItemsRequest(_Strict):
    items: list[ItemIn] = Field(max_length=10_000)


class AddItemsResult(BaseModel):
    created: int
    item_ids: list[int]


class ImportResult(BaseModel):
    created: int
    source: str
    import_id: int | None = None
    gold: int = 0  # how many of the created items are gold items (imported with a known answer)


class ItemOut(BaseModel):
    id: int
    project_id: int
    external_id: str | None
    text: str | None
    media_url: str | None
    meta: dict[str, Any]
    state: str
    lease_until: datetime | None = None
    suggestion: SuggestionOut | None = Field(
        default=None, description="The current model's answer, when it has scored this item."
    )


class NextResponse(BaseModel):
    items: list[ItemOut]


class AnnotationIn(_Strict):
    value: dict[str, Any] | None = None
    skip: bool = False
    client_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    seconds: float | None = Field(default=None, ge=0, le=86_400)
    shown: ShownIn | None = Field(
        default=None, description="What the annotator was shown: the model's suggestion (lineage)."
    )

    model_config = ConfigDict(extra="forbid", strict=False)


class AnnotationOut(BaseModel):
    id: int
    item_id: int
    user_id: int
    value: dict[str, Any] | None
    skipped: bool
    client_key: str
    seconds: float | None
    created_at: datetime
    superseded_by: int | None = None
    replayed: bool = Field(default=False, description="True when this submit repeated an earlier client_key.")


class Health(BaseModel):
    status: str


class Me(BaseModel):
    user: UserOut
    csrf_token: str | None = None


class NextRequest(_Strict):
    count: int = Field(default=1, ge=1, le=50)
    have: list[ObjectId] = Field(default_factory=list, max_length=100)


class ReleaseRequest(_Strict):
    item_ids: list[ObjectId] = Field(max_length=100)


class ReleaseResult(BaseModel):
    released: int


class HistoryEntry(BaseModel):
    annotation: AnnotationOut
    item: ItemOut


class ImagesResult(BaseModel):
    item_ids: list[int]


class AudioOut(BaseModel):
    """What the player needs besides the file: length, waveform and the recognizer's draft."""

    duration: float = Field(description="Length in seconds.")
    peaks: list[list[int]] = Field(description="[low, high] of each equal slice of the recording, -127..127.")
    draft: dict[str, Any] | None = Field(
        default=None,
        description='The draft: {"text", "segments"?, "words": [[word, confidence, start, end], ...]}.',
    )


class TranscriptStats(BaseModel):
    """How a project's recognizer drafts compare with what people typed (see docs/audio.md)."""

    transcripts: int = Field(description="Current transcripts that had a recognizer draft.")
    words: int = Field(description="Words in those transcripts.")
    word_errors: int = Field(description="Word edits (substitutions, insertions, deletions), draft to final.")
    wer: float | None = Field(description="The recognizer's word error rate against people.")
    keystrokes_typed: int = Field(description="Keystrokes to type the final transcripts from scratch.")
    keystrokes_corrected: int = Field(description="Keystrokes to turn the drafts into the final transcripts.")
    keystrokes_saved: float | None = Field(description="Fraction of keystrokes the drafts saved.")


class SuggestionOut(BaseModel):
    """A model's answer to one item, shown to the annotator."""

    model_version_id: int | None
    value: dict[str, Any]
    label: str | None = None
    confidence: float | None = None
    explanation: dict[str, Any] | None = Field(
        default=None,
        description='Why: {"words": [[word, weight], ...]} for text, {"neighbors": [item ids]} for images.',
    )


class ShownIn(_Strict):
    """Lineage of an answer: the suggestion on screen when the person answered."""

    value: dict[str, Any] | None = None
    model_version_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    preselected: bool = False


class JobOut(BaseModel):
    id: int
    project_id: int | None
    kind: str
    args: dict[str, Any]
    state: str = Field(description="queued, running, done, failed or cancelled")
    progress: float = Field(description="0..1")
    message: str
    error: str | None
    result: dict[str, Any] | None
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None


class JobRequest(_Strict):
    kind: str = Field(
        description="featurize, score, faces or transcribe (train has its own route)", max_length=50
    )
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="Options of the kind: faces takes label, redo and params (of the detector); "
        "transcribe takes redo and limit; featurize and score take none",
    )


class ModelVersionOut(BaseModel):
    id: int
    project_id: int
    job_id: int | None
    learner: str
    params: dict[str, Any]
    n_train: int
    metrics: dict[str, Any]
    created_at: datetime


class LearningCurvePoint(BaseModel):
    model_version_id: int
    n_train: int
    accuracy: float | None
    changed: float | None


class ModelsOut(BaseModel):
    """A project's model versions (newest first), its learning curve and when to stop."""

    versions: list[ModelVersionOut]
    learning_curve: list[LearningCurvePoint]
    stopping: dict[str, Any] = Field(
        description="accuracy (cross-validated), changed (fraction of suggestions that flipped), advice"
    )
    jobs: list[JobOut] = Field(description="The project's latest jobs, newest first")


class LoopSettings(BaseModel):
    """How a project's model loop runs (stored in the project's settings)."""

    strategy: str
    learner: str
    learner_params: dict[str, Any]
    retrain_every: int
    auto_retrain: bool
    batch: int


class LoopSettingsUpdate(_Strict):
    strategy: str | None = Field(default=None, max_length=100)
    learner: str | None = Field(default=None, max_length=100)
    learner_params: dict[str, Any] | None = None
    retrain_every: int | None = Field(default=None, ge=1, le=1_000_000)
    auto_retrain: bool | None = None
    batch: int | None = Field(default=None, ge=1, le=10_000)


# ---- review, agreement, consensus, audit ------------------------------------


class MemberIn(_Strict):
    username: str = Field(min_length=1, max_length=100)
    role: Role = Field(default=Role.ANNOTATOR, strict=False)


class InviteCreate(_Strict):
    role: Role = Field(default=Role.ANNOTATOR, strict=False)
    days: float = Field(default=7.0, gt=0, le=90, strict=False, description="the link works this long")


class InviteOut(BaseModel):
    id: int
    project_id: int
    role: Role
    created_by: int | None = None
    created_at: datetime
    expires_at: datetime
    token: str | None = Field(default=None, description="the secret: returned once, when created")
    url: str | None = Field(default=None, description="the invite page's path, /invite/<token>, once")


class InviteAccept(_Strict):
    token: str = Field(min_length=1, max_length=200)
    username: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$", description="new account"
    )
    password: str | None = Field(default=None, min_length=8, max_length=1000, description="new account")


class InviteAccepted(BaseModel):
    project_id: int
    role: Role
    user: UserOut
    created_account: bool
    csrf_token: str | None = None


class MemberUpdate(_Strict):
    role: Role | None = Field(default=None, strict=False)
    paused: bool | None = Field(default=None, description="false unpauses; true pauses by hand")


class MemberOut(BaseModel):
    user_id: int
    username: str
    role: Role
    paused: bool
    pause_reason: str | None = None
    created_at: datetime


class TeamSettings(BaseModel):
    overlap: int = Field(description="answers each item needs from distinct people")
    overlap_max: int = Field(description="adaptive overlap: up to this many people while answers disagree")
    overlap_agreement: float = Field(description="share of answers that must agree before an item is done")
    annotator_visibility: str = Field(description="own: annotators see only their items; all: every item")
    gold_rate: float = Field(description="share of each annotator's queue served from gold items")
    gold_min_answers: int = Field(description="gold answers needed before accuracy can pause someone")
    gold_pause_below: float = Field(description="pause annotators whose gold accuracy falls below this")


class TeamSettingsUpdate(_Strict):
    overlap: int | None = Field(default=None, ge=1, le=100)
    overlap_max: int | None = Field(default=None, ge=1, le=100)
    overlap_agreement: float | None = Field(default=None, ge=0.5, le=1.0, strict=False)
    annotator_visibility: str | None = Field(default=None, pattern="^(own|all)$")
    gold_rate: float | None = Field(default=None, ge=0.0, le=1.0, strict=False)
    gold_min_answers: int | None = Field(default=None, ge=1, le=100_000)
    gold_pause_below: float | None = Field(default=None, ge=0.0, le=1.0, strict=False)


class GoldMark(_Strict):
    item_id: ObjectId | None = None
    external_id: str | None = Field(default=None, max_length=500)
    value: dict[str, Any] = Field(description="the known answer, as an annotation value")


class GoldRequest(_Strict):
    items: list[GoldMark] = Field(min_length=1, max_length=10_000)


class GoldUnmark(_Strict):
    item_ids: list[ObjectId] = Field(min_length=1, max_length=10_000)


class GoldResult(BaseModel):
    changed: int


class GoldItemOut(BaseModel):
    item_id: int
    external_id: str | None
    text: str | None
    value: dict[str, Any]
    answers: int
    correct: int


class GoldAccuracy(BaseModel):
    user_id: int
    username: str
    answers: int
    correct: int
    accuracy: float | None
    paused: bool


# ---- review, agreement, consensus, audit ------------------------------------


class ReviewAnswer(BaseModel):
    """One current answer to an item, as a reviewer sees it."""

    id: int
    user_id: int
    username: str
    value: dict[str, Any] | None
    seconds: float | None
    created_at: datetime
    review: str | None = Field(default=None, description="accepted, or null while nobody has reviewed it")


class ReviewEntry(BaseModel):
    item: ItemOut
    answers: list[ReviewAnswer]
    score: float | None = Field(
        default=None,
        description="disagreement: share of the most common answer; label-errors: the model's "
        "out-of-fold probability of the given label (low means likely wrong)",
    )
    given: str | None = Field(default=None, description="label-errors: the item's current label")
    suggested: str | None = Field(default=None, description="label-errors: the model's most likely label")


class ReviewQueue(BaseModel):
    queue: str
    total: int
    entries: list[ReviewEntry]
    note: str | None = Field(default=None, description="Why the queue is empty, when it cannot be computed")


class ReviewDecision(_Strict):
    action: Literal["accept", "reject", "fix"]
    value: dict[str, Any] | None = Field(default=None, description="fix: the corrected answer")
    note: str = Field(default="", max_length=2000)


class ReviewResult(BaseModel):
    annotation_id: int
    review: str = Field(description="accepted, rejected or fixed")
    fixed_by: int | None = Field(default=None, description="fix: the reviewer's new annotation")
    item_state: str


class AnchoringGroup(BaseModel):
    answers: int
    same_as_suggestion: int
    rate: float | None


class AnchoringOut(BaseModel):
    """How often the final answer equals the model's suggestion, pre-selected or not."""

    preselected: AnchoringGroup
    not_preselected: AnchoringGroup


class PairAgreement(BaseModel):
    a: str
    b: str
    shared: int
    kappa: float | None


class AgreementOut(BaseModel):
    """Inter-annotator agreement on a project's current answers.

    Classify: on the labels. Multilabel: each label is also a yes/no question
    (per label, and pooled for the overall kappas), and alpha compares whole
    label sets with the MASI distance.
    """

    task: str = Field(default="classify", description="classify or multilabel")
    items: int = Field(description="items with at least two answers")
    answers: int
    annotators: list[str]
    fleiss_kappa: float | None = Field(
        description="classify: over the labels; multilabel: over every (item, label) yes/no decision"
    )
    krippendorff_alpha: float | None = Field(
        description="classify: nominal; multilabel: with the MASI distance between label sets"
    )
    alpha_distance: str = Field(default="nominal", description="nominal or masi")
    krippendorff_alpha_interval: float | None = Field(
        default=None,
        description="a rating scale (classify labels that are all numbers): alpha with squared "
        "differences of the label values; null otherwise",
    )
    krippendorff_alpha_items: int | None = Field(
        default=None,
        description="multilabel projects with more distinct label sets than the cap (2,000): the MASI "
        "alpha was computed on a deterministic sample of this many items; null: on every item",
    )
    per_label: dict[str, float | None] = Field(
        description="Fleiss' kappa of each label (multilabel and classify: the label as a yes/no question)"
    )
    per_label_alpha: dict[str, float | None] = Field(
        default_factory=dict, description="Krippendorff's alpha of each label as a yes/no question"
    )
    pairs: list[PairAgreement] = Field(description="Cohen's kappa of each annotator pair sharing items")
    matrix: list[list[float | None]] = Field(
        description="Cohen's kappa, annotators x annotators (multilabel: over the yes/no decisions)"
    )


class ConsensusItem(BaseModel):
    item_id: int
    external_id: str | None
    label: str
    confidence: float
    answers: int


class AnnotatorSkill(BaseModel):
    username: str
    answers: int
    skill: float


class ConsensusMethod(_Strict):
    method: str = Field(
        min_length=1,
        max_length=50,
        description="auto (Dawid-Skene with enough shared items, else majority vote) or an aggregator: "
        "majority-vote, dawid-skene, one-coin-dawid-skene, glad, model-assisted",
    )


class ConsensusOut(BaseModel):
    method: str
    items: list[ConsensusItem]
    annotators: list[AnnotatorSkill]


class AuditEvent(BaseModel):
    id: int
    user_id: int | None
    username: str | None
    action: str
    object_type: str
    object_id: str | None
    detail: dict[str, Any]
    created_at: datetime


class AuditPage(BaseModel):
    events: list[AuditEvent]
    next_before: int | None = Field(description="pass as before= for the next (older) page")


# --- teams: members, team settings, gold items ---------------------------------------
