"""The SDK's copies of route-local response models match the server's."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hitloop.api import app as app_module
from hitloop.api.routes import auth, projects
from hitloop.client import models


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (models.Health, app_module.Health),
        (models.HistoryEntry, projects.HistoryEntry),
        (models.Me, auth.Me),
        (models.ImagesResult, projects.ImagesResult),
        (models.ReleaseResult, projects.ReleaseResult),
    ],
    ids=["Health", "HistoryEntry", "Me", "ImagesResult", "ReleaseResult"],
)
def test_model_matches_server(ours: type[BaseModel], theirs: type[BaseModel]) -> None:
    assert ours.model_json_schema() == theirs.model_json_schema()
