"""Read a folder of image files, ImageNet style: a sub-folder's name is the label."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from hitloop.errors import InputError
from hitloop.formats.records import ItemRecord
from hitloop.formats.source import StrPath

__all__ = ["IMAGE_EXTENSIONS", "list_images", "read_image_folder"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})


def list_images(
    path: StrPath, *, recursive: bool = True, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> list[str]:
    """Relative POSIX paths of the image files (or files with ``extensions``) under ``path``, sorted.

    Extensions match case-insensitively. Hidden files and folders (name starts
    with ``.``, e.g. macOS ``._photo.jpg``) are skipped; symlinked folders are
    not followed, symlinked files are.
    """
    root = Path(path)
    if not root.is_dir():
        message = "no such folder" if not root.exists() else "not a folder"
        raise InputError(message, file=str(path))
    found: list[str] = []
    for folder, subfolders, files in os.walk(root, onerror=_raise):
        relative = Path(folder).relative_to(root)
        if recursive:
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        else:
            subfolders.clear()
        for name in files:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in extensions:
                found.append((relative / name).as_posix())
    found.sort()
    return found


def read_image_folder(
    path: StrPath, *, recursive: bool = True, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> Iterator[ItemRecord]:
    """Yield one record per image file (or file with ``extensions``) under ``path``, sorted by relative path.

    ``external_id`` and ``meta["path"]`` are the relative POSIX path; ``line``
    is the 1-based position in that order. An image inside a sub-folder gets
    its immediate parent folder's name as ``label`` (``cats/a.jpg`` and
    ``train/cats/b.jpg`` are both ``"cats"``); an image at the top has none.
    The file list is gathered (and sorted) on the first ``next()``; the files
    themselves are not opened, see :func:`hitloop.formats.check_image`.
    """
    root = Path(path)
    for number, relative in enumerate(list_images(root, recursive=recursive, extensions=extensions), 1):
        parent, _, _ = relative.rpartition("/")
        label = parent.rpartition("/")[2] if parent else None
        yield ItemRecord(
            line=number,
            image_path=root / relative,
            external_id=relative,
            meta={"path": relative},
            label=label,
        )


def _raise(error: OSError) -> None:
    raise InputError(f"cannot list the folder: {error.strerror or error}", file=error.filename)
