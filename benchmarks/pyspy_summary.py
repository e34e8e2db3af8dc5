"""Summarize a py-spy ``--format raw`` (collapsed stacks) profile.

    python benchmarks/pyspy_summary.py /tmp/profile.txt [--top 25] [--filter hitloop]

Prints the functions with the most samples on top of the stack (self) and
anywhere on the stack (inclusive), as percentages of all samples.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    """'func (path/to/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


# Leaf frames are attributed to the first package whose marker is in the frame.
PACKAGES = [
    ("sqlite/db driver (C)", ("do_execute (", "do_commit (", "do_rollback (", "do_executemany (")),
    ("thread handoff (threading, queue, anyio)", ("threading.py", "queue.py", "anyio/")),
    ("sqlalchemy", ("sqlalchemy/",)),
    ("psycopg", ("psycopg/",)),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("fastapi", ("fastapi/",)),
    ("starlette", ("starlette/",)),
    ("uvicorn/httptools", ("uvicorn/", "httptools/")),
    ("event loop (asyncio/uvloop)", ("asyncio/", "uvloop/", "Runner.run")),
    ("json", ("json/",)),
    ("hitloop", ("hitloop/",)),
    ("benchmark patches", ("_server.py",)),
]


def package(frame: str) -> str:
    for name, markers in PACKAGES:
        if any(m in frame for m in markers):
            return name
    return "other"


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [short(f) for f in stack.split(";")]
        stacks.append((frames, int(count)))
    return stacks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--filter", help="only count inclusive frames whose text contains this")
    args = ap.parse_args(argv)
    stacks = load(args.profile)
    total = sum(c for _, c in stacks)
    if not total:
        print("no samples")
        return 1
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for frames, count in stacks:
        # py-spy puts the thread name first when it is known ("process ...;thread ...").
        leaf = frames[-1]
        own[leaf] += count
        for f in set(frames):
            if args.filter and args.filter not in f:
                continue
            incl[f] += count
    print(f"{total:,} samples from {args.profile}\n")
    print("self (on top of the stack):")
    for f, c in own.most_common(args.top):
        print(f"  {100 * c / total:5.1f}%  {f}")
    by_package: Counter[str] = Counter()
    for frames, count in stacks:
        by_package[package(frames[-1])] += count
    print("\nself time by package (leaf frame):")
    for name, c in by_package.most_common():
        print(f"  {100 * c / total:5.1f}%  {name}")
    print("\ninclusive (anywhere on the stack):")
    for f, c in incl.most_common(args.top):
        print(f"  {100 * c / total:5.1f}%  {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
