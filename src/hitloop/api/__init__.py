"""The JSON API (FastAPI)."""

from hitloop.api.app import create_app

__all__ = ["create_app"]
