"""SQLite writers in different processes take turns instead of failing with "database is locked"."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hitloop.db.engine import Database
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, projects


def test_a_writer_waits_for_another_process_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    db = Database(url, busy_timeout_ms=50)
    db.upgrade()
    owner = auth.create_user(db, "owner", "owner-password")
    holder = textwrap.dedent(
        f"""
        import sys, time
        from sqlalchemy import text
        from hitloop.db.engine import Database
        db = Database({url!r}, busy_timeout_ms=50)
        with db.write() as s:
            s.execute(text("UPDATE users SET is_active = is_active"))
            print("holding", flush=True)
            time.sleep(1.5)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        started = time.monotonic()
        # SQLite alone would give up after 50 ms with "database is locked".
        project = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a"]))
        waited = time.monotonic() - started
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert project.id == 1
    assert waited > 0.5
    db.dispose()
