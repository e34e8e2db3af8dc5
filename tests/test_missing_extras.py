"""Optional extras: without the package, each feature fails with an error naming the extra to install.

The package is made missing for real: ``sys.modules[name] = None`` makes ``import name``
raise ImportError, as on an install without the extra.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Item
from hitloop.errors import InputError
from hitloop.jobs import DaskMapper
from hitloop.media.store import MediaStore
from hitloop.ml.faces import FaceDetector
from hitloop.ml.recognizer import PocketSphinxRecognizer
from hitloop.schemas import ProjectCreate
from hitloop.services import dicom, projects
from hitloop.services.items import ItemLimits
from hitloop.types import Modality


def _block(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def _double(x: int) -> int:
    return 2 * x


CASES: list[tuple[tuple[str, ...], Callable[[], object], type[Exception], str]] = [
    (
        ("cv2",),
        lambda: FaceDetector().detect(np.zeros((64, 64), dtype=np.uint8)),
        ImportError,
        "face detection needs OpenCV: pip install 'hitloop[images]'",
    ),
    (
        ("pocketsphinx",),
        lambda: PocketSphinxRecognizer().recognize(np.zeros(1600, dtype=np.float32)),
        ImportError,
        "speech drafts need the pocketsphinx package: pip install 'hitloop[speech]'",
    ),
    (
        ("distributed",),
        lambda: DaskMapper("tcp://127.0.0.1:9").map(_double, [1, 2]),
        RuntimeError,
        "HITLOOP_DASK_SCHEDULER is set but Dask is not installed: pip install 'hitloop[dask]'",
    ),
]


@pytest.mark.parametrize(("names", "call", "error", "message"), CASES, ids=["opencv", "pocketsphinx", "dask"])
def test_a_missing_package_names_its_extra(
    monkeypatch: pytest.MonkeyPatch,
    names: tuple[str, ...],
    call: Callable[[], object],
    error: type[Exception],
    message: str,
) -> None:
    _block(monkeypatch, *names)
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(message)


def test_dicom_import_without_pydicom_names_the_extra_and_imports_nothing(
    db: Database, media: MediaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ProjectCreate(name="scans", modality=Modality.IMAGE, labels=["a", "b"])
    project = projects.create_project(db, None, spec).id
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 64)
    _block(monkeypatch, "pydicom")
    with pytest.raises(InputError) as raised:
        dicom.import_dicom(db, media, project, None, folder, limits=ItemLimits())
    assert raised.value.describe() == "DICOM import needs pydicom: pip install 'hitloop[dicom]'"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
