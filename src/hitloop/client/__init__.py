"""The Python SDK: a typed client for the hitloop HTTP API.

Imports only httpx, pydantic and hitloop's wire schemas, types and errors, so
it installs and loads without the server's dependencies being used.
"""

from __future__ import annotations

from hitloop.client.bodies import ItemLike
from hitloop.client.client import DEFAULT_URL, Answer, Client, ExportFormat
from hitloop.client.loop import JobFailedError
from hitloop.client.models import Health, HistoryEntry
from hitloop.client.session import ConnectionFailedError

__all__ = [
    "DEFAULT_URL",
    "Answer",
    "Client",
    "ConnectionFailedError",
    "ExportFormat",
    "Health",
    "HistoryEntry",
    "ItemLike",
    "JobFailedError",
]
