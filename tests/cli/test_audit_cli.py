"""``hitloop audit export`` and ``hitloop consensus``."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects


def _project(ctx: Any) -> int:
    user = auth.create_user(ctx.db, "ann", "ann-password")
    project = projects.create_project(ctx.db, user.id, ProjectCreate(name="p", labels=["a", "b"]))
    ids = items.add_items(ctx.db, project.id, user.id, [ItemIn(text="x"), ItemIn(text="y")], ctx.limits)
    for item in ids:
        annotations.submit(
            ctx.db, user.id, item, AnnotationIn(value={"label": "b"}, client_key=uuid.uuid4().hex)
        )
    return project.id


def test_audit_export_to_jsonl_csv_and_stdout(run: Any, ctx: Any, tmp_path: Path) -> None:
    pid = _project(ctx)
    out = tmp_path / "audit.jsonl"
    assert "Exported the audit log" in run("audit", "export", pid, "-o", out).stdout
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["action"] for e in events] == ["project.create", "items.add"]
    assert events[0]["username"] == "ann" and events[0]["detail"] == {"name": "p"}
    run("audit", "export", pid, "-o", tmp_path / "audit.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text())))
    assert [r["action"] for r in rows] == ["project.create", "items.add"]
    assert run("audit", "export", pid, "--format", "csv", "-o", "-").stdout.startswith("id,created_at,")


def test_consensus_to_a_file(run: Any, ctx: Any, tmp_path: Path) -> None:
    pid = _project(ctx)
    out = tmp_path / "consensus.jsonl"
    assert "Wrote 2 consensus labels" in run("consensus", pid, "-o", out).stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["label"], x["method"]) for x in lines] == [("b", "majority-vote")] * 2


def test_bad_input_is_a_precise_error_and_writes_nothing(run: Any, ctx: Any, tmp_path: Path) -> None:
    pid = _project(ctx)
    out = tmp_path / "x.jsonl"
    r = run("consensus", pid, "--method", "best", "-o", out, expect=2)
    assert "field 'method'" in r.stderr and "unknown consensus method 'best'" in r.stderr
    r = run("audit", "export", 999, "-o", out, expect=2)
    assert "project 999 not found" in r.stderr
    r = run("audit", "export", pid, "-o", tmp_path / "missing-dir" / "a.jsonl", expect=2)
    assert "cannot write the file" in r.stderr
    assert not out.exists() and list(tmp_path.glob(".*partial")) == []


def test_audit_instance_exports_the_events_of_no_project(run: Any, ctx: Any, tmp_path: Path) -> None:
    _project(ctx)  # project.create and items.add belong to the project, not to the instance
    user = auth.create_user(ctx.db, "bob", "bob-password")
    token = auth.create_token(ctx.db, user.id, "laptop")[0]
    auth.revoke_token(ctx.db, user.id, token.id)
    out = tmp_path / "instance.jsonl"
    assert "Exported the instance's audit log" in run("audit", "instance", "-o", out).stdout
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["action"] for e in events] == ["user.create", "user.create", "token.create", "token.revoke"]
    assert events[2]["username"] == "bob" and events[2]["detail"] == {"name": "laptop"}
    run("audit", "instance", "-o", tmp_path / "instance.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "instance.csv").read_text())))
    assert [r["action"] for r in rows] == [e["action"] for e in events]
    shown = run("audit", "instance", "--format", "csv", "-o", "-").stdout
    assert shown.startswith("id,created_at,") and shown.count("\n") == 5
    r = run("audit", "instance", "-o", tmp_path / "missing-dir" / "a.jsonl", expect=2)
    assert "cannot write the file" in r.stderr
