"""Open a source file for reading, turning OS errors into :class:`InputError`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from hitloop.errors import InputError

__all__ = ["StrPath", "open_source"]

StrPath = str | os.PathLike[str]


def open_source(path: Path) -> BinaryIO:
    """Open ``path`` for binary reading or say plainly why not."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None
