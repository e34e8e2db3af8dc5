"""Response shapes, re-exported from :mod:`hitloop.schemas` for older imports."""

from __future__ import annotations

from hitloop.schemas import Health, HistoryEntry, ImagesResult, Me, ReleaseResult

__all__ = ["Health", "HistoryEntry", "ImagesResult", "Me", "ReleaseResult"]
