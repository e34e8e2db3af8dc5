"""Progress bars seen on a real terminal: the command runs in a child process whose stderr is a pty.

The bars are drawn only when stderr is a terminal, so CliRunner (which captures
stderr into a buffer) never shows one; these tests give the child a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from hitloop.db.engine import Database
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects
from hitloop.services.items import ItemLimits
from tests.loop.conftest import make_texts

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

ROWS = 3_000
MAIN = "from hitloop.cli.main import main; main()"


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HITLOOP_", "TQDM_"))}
    env["HITLOOP_DATA_DIR"] = str(tmp_path / "data")
    env["HITLOOP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hitloop.db'}"
    env["HITLOOP_IMPORT_BATCH_SIZE"] = "500"
    # tqdm redraws at most every 0.1 s; drawing on every update makes what the terminal shows
    # depend on the counts alone, not on how fast the machine is.
    env["TQDM_MININTERVAL"] = "0"
    return env


def _run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``hitloop args`` with stderr on a pseudo-terminal; return (exit code, stdout, terminal text)."""
    master, slave = pty.openpty()
    # A fresh pty is 0 columns wide, and tqdm fits the bar to the width: give it a real size.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-c", MAIN, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                child.kill()
                pytest.fail(f"no terminal output for 60 s; so far: {seen.decode(errors='replace')!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end of the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert child.stdout is not None
        stdout = child.stdout.read().decode()
        code = child.wait(timeout=60)
    finally:
        os.close(master)
    return code, stdout, seen.decode()


_BAR = re.compile(r"(\d+)%\|[^|]*\| ([\d.]+k?)/([\d.]+k?) \[[^\]]* (\S+)/s\]")


def _bars(terminal: str) -> list[tuple[str, ...]]:
    """(percent, count, total, unit) of each redraw of a bar, in order."""
    return [tuple(m.groups()) for m in _BAR.finditer(terminal)]


def _run_piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def rows_file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"review number {i}"}) + "\n" for i in range(ROWS)))
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return _environment(tmp_path)


def _text_project(env: dict[str, str], n_labels: int = 0) -> int:
    database = Database(env["HITLOOP_DATABASE_URL"])
    database.upgrade()
    try:
        user = auth.create_user(database, "ann", "ann-password").id
        project = projects.create_project(database, user, ProjectCreate(name="p", labels=["pos", "neg"])).id
        if n_labels:
            texts, truth = make_texts(30)
            ids = items.add_items(database, project, user, [ItemIn(text=t) for t in texts], ItemLimits())
            for item_id, label in list(zip(ids, truth, strict=True))[:n_labels]:
                answer = AnnotationIn(value={"label": label}, client_key=f"answer-key-{item_id}")
                annotations.submit(database, user, item_id, answer)
    finally:
        database.dispose()
    return project


def test_import_draws_a_counting_bar_on_a_terminal(env: dict[str, str], rows_file: Path) -> None:
    project = _text_project(env)
    code, stdout, terminal = _run_on_terminal(["import", str(project), str(rows_file)], env)
    assert code == 0, terminal
    assert stdout == f"Imported 3,000 items from {rows_file}\n"
    # tqdm scales the counts (3000 -> 3.00k): the bar starts empty and is redrawn after each batch.
    drawn = _bars(terminal)
    assert drawn[0] == ("0", "0.00", "3.00k", "items"), terminal
    assert ("17", "500", "3.00k", "items") in drawn  # after the first batch of 500
    assert drawn[-1] == ("100", "3.00k", "3.00k", "items")
    assert "\r" in terminal  # redrawn in place, not line after line
    assert "\n" not in terminal.replace("\r\n", "")  # and the bar leaves no line behind


def test_import_writes_no_bar_when_stderr_is_not_a_terminal(env: dict[str, str], rows_file: Path) -> None:
    project = _text_project(env)
    done = _run_piped(["import", str(project), str(rows_file)], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Imported 3,000 items from {rows_file}\n"
    assert done.stderr == ""


def test_quiet_hides_the_bar_on_a_terminal(env: dict[str, str], rows_file: Path) -> None:
    project = _text_project(env)
    code, stdout, terminal = _run_on_terminal(["import", str(project), str(rows_file), "--quiet"], env)
    assert code == 0, terminal
    assert stdout == f"Imported 3,000 items from {rows_file}\n"
    assert terminal == ""


def test_export_draws_a_bar_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    project = _text_project(env, n_labels=12)
    out = tmp_path / "out.jsonl"
    code, stdout, terminal = _run_on_terminal(["export", str(project), "-o", str(out)], env)
    assert code == 0, terminal
    assert stdout == f"Exported 12 annotations to {out}\n"
    drawn = _bars(terminal)
    assert drawn[0] == ("0", "0.00", "12.0", "rows"), terminal
    assert drawn[-1] == ("100", "12.0", "12.0", "rows")


def test_following_a_job_draws_its_percentage(env: dict[str, str]) -> None:
    project = _text_project(env, n_labels=10)
    code, stdout, terminal = _run_on_terminal(["train", str(project), "--wait"], env)
    assert code == 0, terminal
    assert "Model version 1: 10 labels" in stdout
    drawn = _bars(terminal)
    assert drawn[0] == ("0", "0.00", "100", "%"), terminal
    assert drawn[-1] == ("100", "100", "100", "%")
    assert "\rdone: 100%|" in terminal  # the job's last message is the bar's description


def test_following_a_job_writes_no_bar_when_piped(env: dict[str, str]) -> None:
    project = _text_project(env, n_labels=10)
    done = _run_piped(["train", str(project), "--wait"], env)
    assert done.returncode == 0, done.stderr
    assert "Model version 1: 10 labels" in done.stdout
    assert done.stderr == ""
