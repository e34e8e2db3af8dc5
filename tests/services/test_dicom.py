"""DICOM import: 16-bit pixels kept, technical tags kept, patient tags never stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Event, ImportRun, Item, Media
from hitloop.errors import HitloopError, InputError, PayloadTooLargeError
from hitloop.media.store import MediaStore
from hitloop.schemas import ProjectCreate
from hitloop.services import dicom, projects
from hitloop.services.items import ItemLimits
from hitloop.types import Modality

pydicom = pytest.importorskip("pydicom")

PATIENT = "Doe^Jane"


def write_dicom(path: Path, pixels: np.ndarray, **tags: Any) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = PATIENT
    ds.PatientID = "MRN-0042"
    ds.PatientBirthDate = "19700101"
    ds.InstitutionName = "General Hospital"
    ds.Modality = "CT"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [0.5, 0.5]
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -1024
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def image_project(db: Database) -> int:
    spec = ProjectCreate(name="ct", labels=["normal", "lesion"], modality=Modality.IMAGE)
    return projects.create_project(db, None, spec).id


def ramp(dtype: Any = np.uint16) -> np.ndarray:
    return (np.arange(48 * 64).reshape(48, 64) % 4000).astype(dtype)


def test_dicom_becomes_a_16_bit_png_without_patient_tags(
    db: Database, media: MediaStore, tmp_path: Path
) -> None:
    pid = image_project(db)
    write_dicom(tmp_path / "scans" / "a.dcm", ramp())
    write_dicom(tmp_path / "scans" / "sub" / "b.dcm", ramp(np.int16) - 1000)
    (tmp_path / "scans" / "notes.txt").write_text("ignored")
    result = dicom.import_dicom(db, media, pid, None, tmp_path / "scans", limits=ItemLimits())
    assert result.created == 2
    with db.read() as s:
        rows = s.execute(select(Item.external_id, Item.meta, Item.media_sha256).order_by(Item.id)).all()
        events = [json.dumps(e) for e in s.scalars(select(Event.detail))]
    assert [r.external_id for r in rows] == ["a.dcm", "sub/b.dcm"]
    tags = rows[0].meta["dicom"]
    assert tags["Modality"] == "CT" and tags["PixelSpacing"] == [0.5, 0.5] and tags["WindowWidth"] == 400
    assert rows[1].meta["dicom"]["pixel_offset"] == 32768
    stored = Image.open(media.path_for(rows[0].media_sha256))
    np.testing.assert_array_equal(np.asarray(stored), ramp())
    # No patient tag anywhere: not in metadata, events, or the stored files.
    everything = json.dumps([r.meta for r in rows]) + "".join(events)
    stored_bytes = b"".join(p.read_bytes() for p in media.root.rglob("*") if p.is_file())
    for secret in (PATIENT, "MRN-0042", "19700101", "General Hospital"):
        assert secret not in everything and secret.encode() not in stored_bytes


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: p.write_bytes(b"not dicom at all" * 20), InputError, "not a DICOM file"),
        (lambda p: write_dicom(p, ramp(), NumberOfFrames=2), InputError, "multi-frame"),
        (
            lambda p: write_dicom(p, np.zeros((100, 200), np.uint16)),
            PayloadTooLargeError,
            "more than the limit",
        ),
    ],
    ids=["not-dicom", "multi-frame", "too-many-pixels"],
)
def test_a_bad_file_stops_the_whole_import(
    db: Database, media: MediaStore, tmp_path: Path, make: Any, error: type[HitloopError], message: str
) -> None:
    pid = image_project(db)
    write_dicom(tmp_path / "scans" / "a.dcm", ramp())
    bad = tmp_path / "scans" / "b.dcm"
    make(bad)
    limits = ItemLimits(max_image_pixels=10_000)
    with pytest.raises(error, match=message) as err:
        dicom.import_dicom(db, media, pid, None, tmp_path / "scans", limits=limits)
    assert err.value.file == str(bad)
    with db.read() as s:
        for table in (Item, Media, ImportRun):
            assert s.scalar(select(func.count()).select_from(table)) == 0


def test_dicom_needs_an_image_project(db: Database, media: MediaStore, tmp_path: Path) -> None:
    pid = projects.create_project(db, None, ProjectCreate(name="t", labels=["a"])).id
    path = write_dicom(tmp_path / "a.dcm", ramp())
    with pytest.raises(InputError, match="not images"):
        dicom.import_dicom(db, media, pid, None, path, limits=ItemLimits())
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.dcm"):
        dicom.import_dicom(db, media, image_project(db), None, tmp_path / "empty", limits=ItemLimits())


def test_each_file_is_read_once(
    db: Database, media: MediaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The header checks (size, frames, samples) and the pixels come from one read of the file.
    real = pydicom.dcmread
    reads: list[str] = []

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        reads.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", counting)
    pid = image_project(db)
    write_dicom(tmp_path / "scans" / "a.dcm", ramp())
    signed = ramp(np.int16) % 2000 - 1000  # inside the 12 bits stored
    write_dicom(tmp_path / "scans" / "b.dcm", signed, PhotometricInterpretation="MONOCHROME1")
    result = dicom.import_dicom(db, media, pid, None, tmp_path / "scans", limits=ItemLimits())
    assert result.created == 2
    assert sorted(reads) == ["a.dcm", "b.dcm"]
    with db.read() as s:
        shas = list(s.scalars(select(Item.media_sha256).order_by(Item.id)))
    np.testing.assert_array_equal(np.asarray(Image.open(media.path_for(shas[0]))), ramp())
    shifted = signed.astype(np.int32) + 32768
    inverted = np.asarray(Image.open(media.path_for(shas[1])))
    np.testing.assert_array_equal(inverted, shifted.max() - shifted)
