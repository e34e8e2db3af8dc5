"""One typed settings object, read from ``HITLOOP_*`` environment variables.

Nothing is read at import time: call :func:`get_settings` (or build
:class:`Settings` yourself) and pass the object on.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Every setting has a default and a description; ``docs/settings.md`` lists them."""

    model_config = SettingsConfigDict(env_prefix="HITLOOP_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path(".hitloop"),
        description="Directory for the SQLite database, media files and model artifacts.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/db. "
            "Default: a SQLite file `hitloop.db` in the data directory."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=8765, ge=0, le=65535, description="Port the server listens on.")
    lease_seconds: int = Field(
        default=600,
        ge=5,
        description=(
            "How long an item served to a person stays reserved for them before it returns to the queue."
        ),
    )
    max_leases_per_user: int = Field(
        default=8,
        ge=1,
        description="Most items one person may hold at once (the labeling page prefetches a few).",
    )
    max_upload_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest accepted upload (import file or image), in bytes.",
    )
    max_image_pixels: int = Field(
        default=64_000_000,
        ge=1,
        description=(
            "Largest accepted image, in pixels; larger images are refused as possible decompression bombs."
        ),
    )
    max_text_chars: int = Field(
        default=100_000, ge=1, description="Longest accepted text of one item, in characters."
    )
    max_audio_seconds: float = Field(
        default=4 * 3600,
        gt=0,
        description="Longest accepted recording, in seconds (checked in the header, then while decoding).",
    )
    session_days: int = Field(default=14, ge=1, description="Lifetime of a browser login session, in days.")
    secure_cookies: bool = Field(
        default=False,
        description="Mark session cookies Secure (set this when serving over HTTPS).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000, ge=0, description="How long SQLite waits for the write lock before giving up."
    )
    import_batch_size: int = Field(
        default=5_000, ge=1, description="Rows written per database round trip during imports."
    )
    job_threads: int = Field(
        default=2,
        ge=0,
        le=64,
        description=(
            "Threads in the server process that run background jobs (featurize, train, score);"
            " jobs of one project always run one at a time. 0: the server runs no jobs, and"
            " `hitloop worker` processes run them."
        ),
    )
    dask_scheduler: str | None = Field(
        default=None,
        description=(
            "Address of a Dask distributed scheduler (e.g. tcp://10.0.0.5:8786). When set, featurizing"
            " and pool scoring are split into chunks computed by the cluster's workers"
            " (needs the `dask` extra)."
        ),
    )

    opentelemetry: bool = Field(
        default=False,
        description=(
            "Let FastAPI's native OpenTelemetry instrumentation trace, measure and log requests to the"
            " providers configured in the process. Off by default: its per-request check alone cost"
            " about 2% of the server's CPU."
        ),
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hitloop.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "features"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with keyword overrides taking precedence."""
    return Settings(**overrides)  # type: ignore[arg-type]
