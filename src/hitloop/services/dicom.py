"""Importing DICOM files into an image project, without their patient tags."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hitloop.db.engine import Database
from hitloop.errors import InputError
from hitloop.formats.records import ItemRecord
from hitloop.media.store import MediaStore
from hitloop.schemas import ImportResult
from hitloop.services.items import ItemLimits, import_records
from hitloop.services.projects import get_project
from hitloop.types import Modality

__all__ = ["DICOM_EXTENSIONS", "import_dicom", "list_dicom"]

DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})


def list_dicom(path: Path) -> list[Path]:
    """The DICOM files at ``path``: the file itself, or ``*.dcm``/``*.dicom`` under a folder, sorted."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError("no such file or folder", file=str(path))
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in DICOM_EXTENSIONS and not p.name.startswith(".")
    )
    if not found:
        raise InputError("no .dcm or .dicom files in the folder", file=str(path))
    return found


def import_dicom(
    db: Database,
    store: MediaStore,
    project_id: int,
    user_id: int | None,
    path: Path,
    *,
    limits: ItemLimits,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import DICOM files as 16-bit PNG images, all or nothing.

    Every file is converted first (any bad file stops the import, naming it);
    the images then go in through the usual import. Each item keeps its path
    and the technical tags of :data:`hitloop.formats.dicom.KEPT_TAGS` in
    ``meta["dicom"]``; patient and study tags are not stored anywhere.
    """
    from hitloop.formats.dicom import dicom_to_png

    project = get_project(db, project_id)
    if project.modality is not Modality.IMAGE:
        raise InputError(
            f"project {project_id} holds {project.modality.value} items, not images", file=str(path)
        )
    files = list_dicom(path)
    root = path if path.is_dir() else path.parent
    with tempfile.TemporaryDirectory(prefix="hitloop-dicom-") as tmp:
        records = []
        for number, file in enumerate(files, 1):
            relative = file.relative_to(root).as_posix()
            png, tags = dicom_to_png(
                file, max_pixels=limits.max_image_pixels, max_bytes=limits.max_upload_bytes, name=str(file)
            )
            converted = Path(tmp) / f"{number}.png"
            converted.write_bytes(png)
            records.append(
                ItemRecord(
                    line=number,
                    image_path=converted,
                    external_id=relative,
                    meta={"path": relative, "dicom": tags},
                )
            )
        return import_records(
            db, store, project_id, user_id, records, source=str(path), limits=limits, progress=progress
        )
