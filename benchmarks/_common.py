"""Shared helpers for the benchmarks: databases, records, /proc readings, machine info.

Nothing here is part of the hitloop package; the benchmarks import hitloop
only through its public services, exactly as the server and the CLI do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent
SST2 = REPO.parent / "shared" / "data" / "text" / "sst2"


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class Record:
    """The shape ``services.items.import_records`` reads (``RecordLike``)."""

    line: int
    text: str | None
    external_id: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    image_path: Path | None = None
    label: str | list[str] | None = None


_WORDS = (
    "the",
    "service",
    "was",
    "quick",
    "and",
    "friendly",
    "but",
    "the",
    "food",
    "arrived",
    "cold",
    "and",
    "the",
    "bill",
    "was",
    "wrong",
    "great",
    "value",
    "would",
    "come",
    "back",
    "again",
    "terrible",
    "support",
    "never",
    "answered",
    "my",
    "emails",
    "at",
    "all",
    "delivery",
    "took",
    "three",
    "weeks",
    "package",
    "damaged",
    "refund",
    "still",
    "pending",
    "after",
    "many",
    "calls",
)


def load_sst2(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` SST-2 sentences and labels (../shared/data), drawn with replacement past the 9,613 there are."""
    rows = []
    for name in ("train", "dev", "test"):
        with open(SST2 / f"{name}.jsonl", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f]
    rng = random.Random(seed)
    if n <= len(rows):
        picked = rng.sample(rows, n)
    else:
        picked = rows + [rng.choice(rows) for _ in range(n - len(rows))]
        rng.shuffle(picked)
    return [r["text"] for r in picked], [r["label"] for r in picked]


def item_text(i: int) -> str:
    """A deterministic ~100-character review-like text."""
    n = len(_WORDS)
    words = [_WORDS[(i * 7 + k * 13) % n] for k in range(16)]
    return f"#{i} " + " ".join(words)


def records(n: int) -> Iterator[Record]:
    for i in range(n):
        yield Record(line=i + 1, text=item_text(i), external_id=f"x{i}", meta={"bucket": i % 10})


# --------------------------------------------------------------------------- databases


@contextlib.contextmanager
def database_url(data_dir: Path, url: str | None) -> Iterator[tuple[str, str]]:
    """Yield (url, kind) for a fresh database; a PostgreSQL schema is dropped afterwards."""
    if not url:
        yield f"sqlite:///{(data_dir / 'hitloop.db').resolve()}", "sqlite"
        return
    if not url.startswith("postgresql"):
        raise SystemExit("--database must be a postgresql+psycopg:// URL (or omit it for SQLite)")
    from sqlalchemy import create_engine, text

    schema = f"hl_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}", "postgresql"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def database_version(url: str) -> str:
    if url.startswith("sqlite"):
        return sqlite3.sqlite_version
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def redact(url: str) -> str:
    """The URL without a password (there is none with trust auth, but be safe)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --------------------------------------------------------------------------- /proc


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes (empty if the process is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0.0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    seen = [pid]
    i = 0
    while i < len(seen):
        p = seen[i]
        i += 1
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    seen.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return seen


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores, from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return 0.0
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    # guest time is already counted in user time
    return (sum(values[:8]) - idle) / CLK_TCK


def postgres_cpu() -> float:
    """CPU seconds of all processes named ``postgres`` (the database server's backends)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total += proc_cpu(int(entry))
    return total


def rss_now() -> int:
    return proc_status(os.getpid()).get("VmRSS", 0)


def hwm_now() -> int:
    return proc_status(os.getpid()).get("VmHWM", 0)


# --------------------------------------------------------------------------- reporting


def machine_info(db_kind: str, db_url: str) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_total = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
                break
    packages = {}
    for name in (
        "hitloop",
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "sqlalchemy",
        "psycopg",
        "pyarrow",
    ):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    commit = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    dirty = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        # Uncommitted changes under src/ (other work in progress), identified by a hash.
        diff = subprocess.run(
            ["git", "-C", str(REPO), "diff", "HEAD", "--", "src"], capture_output=True, check=True
        ).stdout
        untracked = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "--others", "--exclude-standard", "--", "src"],
            capture_output=True,
            check=True,
        ).stdout
        dirty = hashlib.sha1(diff + untracked).hexdigest()[:10] if diff or untracked else False
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "mem_total_gib": round(mem_total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": db_kind,
        "database_version": database_version(db_url),
        "packages": packages,
        "git_commit": commit,
        "src_dirty": dirty,
        "loadavg_at_start": os.getloadavg(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
    }


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"
