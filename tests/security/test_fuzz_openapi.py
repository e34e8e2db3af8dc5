"""Fuzz every documented route with schemathesis: no 5xx, no response outside its own schema.

The app runs in process (ASGI), authenticated as an administrator, on a small
project with items and answers, so that generated requests reach real objects
as well as missing ones.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects, queue

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 12


@pytest.fixture
def seeded(ctx: Any, admin: Any) -> dict[str, int]:
    """A project with items and one answer, plus a spare token that fuzzed deletes may revoke."""
    project = projects.create_project(ctx.db, admin.id, ProjectCreate(name="fuzz", labels=["a", "b"]))
    ids = items.add_items(ctx.db, project.id, admin.id, [ItemIn(text=f"t{i}") for i in range(4)], ctx.limits)
    queue.next_items(ctx.db, project.id, admin.id, count=1)
    annotations.submit(ctx.db, admin.id, ids[0], AnnotationIn(value={"label": "a"}, client_key="seed-0001"))
    spare, _ = auth.create_token(ctx.db, admin.id, "spare")
    return {"project_id": project.id, "item_id": ids[1], "token_id": spare.id}


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_fuzzed_requests_get_no_server_error_and_match_the_schema(
    app: Any, token: str, seeded: dict[str, int]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    operations = _operations(app)
    assert len(operations) >= 15
    path_ids = {name: seeded[name] for name in ("project_id", "item_id", "token_id")}
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), real_ids=st.booleans())
        def fuzz(case: Any, real_ids: bool) -> None:
            params = case.path_parameters or {}
            if "token_id" in params or (real_ids and params):
                # Never revoke the token this test authenticates with.
                case.path_parameters = {k: path_ids.get(k, v) for k, v in params.items()}
            case.call_and_validate(headers=headers, checks=CHECKS)

        fuzz()
