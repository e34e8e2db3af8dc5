"""The typed context object of each page: a template reads ``page`` and nothing else.

Every page with data also names its JSON twin (``json_url``), the API route
that returns the same data to the SDK and to scripts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hitloop.schemas import ProjectOut, ProjectStats
from hitloop.services.auth import CurrentUser
from hitloop.types import Modality, TaskType

__all__ = [
    "EXPORT_FORMATS",
    "ErrorPage",
    "LabelBar",
    "LabelPage",
    "LoginPage",
    "NewProjectPage",
    "Page",
    "ProjectForm",
    "ProjectPage",
    "ProjectSummary",
    "ProjectsPage",
]

EXPORT_FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True, kw_only=True)
class Page:
    """What the layout needs: the title, who is logged in, the JSON twin."""

    title: str
    user: CurrentUser | None = None
    json_url: str | None = None

    @property
    def csrf_token(self) -> str:
        return (self.user.csrf_token or "") if self.user else ""


@dataclass(frozen=True)
class LabelBar:
    name: str
    count: int
    of: int  # the scale of the bar (the largest count, at least 1)


@dataclass(frozen=True)
class ProjectSummary:
    """A project with the numbers its cards and bars show."""

    project: ProjectOut
    stats: ProjectStats
    bars: list[LabelBar]
    own_answers: bool = False  # the bars count only the viewer's answers (an annotator's view)

    @classmethod
    def of(cls, project: ProjectOut, *, own_answers: bool = False) -> ProjectSummary:
        stats = project.stats or ProjectStats(total=0, labeled=0, skipped=0, annotations=0, distribution={})
        counts = [(name, stats.distribution.get(name, 0)) for name in project.labels]
        scale = max([c for _, c in counts] + [1])
        bars = [LabelBar(n, c, scale) for n, c in counts]
        return cls(project=project, stats=stats, bars=bars, own_answers=own_answers)

    @property
    def distribution_title(self) -> str:
        return "Your labels" if self.own_answers else "Label distribution"

    @property
    def percent(self) -> int:
        return round(100 * self.stats.labeled / self.stats.total) if self.stats.total else 0


@dataclass(frozen=True, kw_only=True)
class LoginPage(Page):
    title: str = "Log in"
    username: str = ""
    next_url: str = "/"
    error: str | None = None
    form_token: str = ""  # the pre-session CSRF token (web.session.check_presession)


@dataclass(frozen=True, kw_only=True)
class ProjectsPage(Page):
    title: str = "Projects"
    json_url: str | None = "/api/projects"
    projects: list[ProjectSummary] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectForm:
    """The new-project form as typed; kept as text so a failed post re-renders it unchanged."""

    name: str = ""
    task: str = TaskType.CLASSIFY.value
    modality: str = Modality.TEXT.value
    labels: str = ""
    instructions: str = ""


@dataclass(frozen=True, kw_only=True)
class NewProjectPage(Page):
    title: str = "New project"
    form: ProjectForm = field(default_factory=ProjectForm)
    error: str | None = None
    tasks: tuple[str, ...] = tuple(t.value for t in TaskType)
    modalities: tuple[str, ...] = tuple(m.value for m in Modality)


@dataclass(frozen=True, kw_only=True)
class ProjectPage(Page):
    summary: ProjectSummary
    max_upload_bytes: int
    team: Any = None  # hitloop.web.team.TeamPanel: role, members, gold accuracy, team settings
    quality: Any = None  # hitloop.web.review_pages.QualityPanel: agreement matrix, review and audit links
    speech: Any = None  # hitloop.schemas.TranscriptStats of a transcribe project: drafts vs people
    images: Any = None  # hitloop.web.images.ImagesPanel: thumbnails; box quality of boxes projects

    @property
    def project(self) -> ProjectOut:
        return self.summary.project

    @property
    def export_links(self) -> list[tuple[str, str]]:
        return [(fmt, f"/api/projects/{self.project.id}/export?format={fmt}") for fmt in EXPORT_FORMATS]


@dataclass(frozen=True, kw_only=True)
class LabelPage(Page):
    summary: ProjectSummary

    @property
    def project(self) -> ProjectOut:
        return self.summary.project

    @property
    def app_config(self) -> dict[str, Any]:
        """What label.js reads from the page's JSON block."""
        p = self.project
        return {
            "project": {
                "id": p.id,
                "name": p.name,
                "task": p.task.value,
                "modality": p.modality.value,
                "labels": p.labels,
                "instructions": p.instructions,
            },
            "stats": self.summary.stats.model_dump(),
            "user": self.user.username if self.user else None,
            "prefetch": 3,
        }


@dataclass(frozen=True, kw_only=True)
class ErrorPage(Page):
    status: int
    message: str
