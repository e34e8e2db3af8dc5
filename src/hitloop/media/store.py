"""Files stored by the SHA-256 of their bytes; paths never come from request input."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from hitloop.errors import NotFoundError

__all__ = ["MediaStore"]

_SHA = re.compile(r"^[0-9a-f]{64}$")


class MediaStore:
    """``root/ab/cd/abcd…``: two levels of fan-out keep directories small."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise NotFoundError("no such media")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes (once) and return their SHA-256."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_for(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()
