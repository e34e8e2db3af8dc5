"""What every request handler gets: settings, database, media store."""

from __future__ import annotations

from dataclasses import dataclass

from hitloop.db.engine import Database
from hitloop.media.store import MediaStore
from hitloop.services.items import ItemLimits
from hitloop.settings import Settings

__all__ = ["AppContext"]


@dataclass
class AppContext:
    settings: Settings
    db: Database
    media: MediaStore

    @property
    def limits(self) -> ItemLimits:
        s = self.settings
        return ItemLimits(
            max_text_chars=s.max_text_chars,
            max_upload_bytes=s.max_upload_bytes,
            max_image_pixels=s.max_image_pixels,
            max_audio_seconds=s.max_audio_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        db = Database(settings.resolved_database_url(), busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        return cls(settings=settings, db=db, media=MediaStore(settings.media_dir))
