"""Content-addressed file store for images and audio."""

from hitloop.media.store import MediaStore

__all__ = ["MediaStore"]
