"""Progress bars on stderr, shown only to a person watching a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

__all__ = ["counted", "progress_bar"]

T = TypeVar("T")


def progress_bar(total: int | None, *, unit: str, quiet: bool = False) -> tqdm[Any]:
    """A tqdm bar on stderr; hidden with ``quiet`` or when stderr is not a terminal."""
    stream = sys.stderr
    return tqdm(
        total=total,
        unit=f" {unit}",
        unit_scale=True,
        file=stream,
        disable=quiet or not stream.isatty(),
        dynamic_ncols=True,
        leave=False,
    )


def counted(rows: Iterable[T], bar: tqdm[Any], *, every: int = 1000) -> Iterator[T]:
    """Pass rows through, advancing ``bar`` every ``every`` rows (tqdm per row costs too much)."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == every:
            bar.update(pending)
            pending = 0
    if pending:
        bar.update(pending)
