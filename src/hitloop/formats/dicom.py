"""DICOM files to 16-bit grayscale PNG, keeping technical tags only (needs the ``dicom`` extra).

Patient and study tags (name, id, birth date, accession number, institution,
dates, UIDs…) are never read into hitloop: the stored image is a PNG of the
pixels, and the item's metadata holds only the whitelisted technical tags of
:data:`KEPT_TAGS`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hitloop.errors import InputError, PayloadTooLargeError

__all__ = ["KEPT_TAGS", "dicom_to_png", "require_pydicom"]

# Technical tags, safe to show; everything else stays in the file.
KEPT_TAGS = (
    "Modality",
    "BodyPartExamined",
    "Rows",
    "Columns",
    "BitsStored",
    "PhotometricInterpretation",
    "PixelSpacing",
    "SliceThickness",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
)


def require_pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise InputError("DICOM import needs pydicom: pip install 'hitloop[dicom]'") from None
    return pydicom


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float):
        return value
    if hasattr(value, "__iter__"):
        return [_plain(v) for v in value]
    return float(value) if hasattr(value, "real") else str(value)


def dicom_to_png(path: Path, *, max_pixels: int, max_bytes: int, name: str) -> tuple[bytes, dict[str, Any]]:
    """(16-bit grayscale PNG of the stored pixel values, technical tags) of one DICOM file.

    MONOCHROME1 (white is low) is inverted so that white is high, as in
    MONOCHROME2. Signed samples are shifted by 32,768 into the unsigned range
    (``pixel_offset`` in the tags). Multi-frame, color and compressed files
    that pydicom cannot decode by itself are refused with a clear error.

    The file is read once: the header is checked (pixel count, frames,
    samples) on the read dataset before its pixel data is decoded.
    """
    pydicom = require_pydicom()
    from pydicom.errors import InvalidDicomError

    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise PayloadTooLargeError(f"the file is larger than {max_bytes} bytes", file=name)
        # Decoding waits for .pixel_array below, after the header checks.
        dataset = pydicom.dcmread(path)
    except InvalidDicomError:
        raise InputError("not a DICOM file", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", file=name) from None
    header = dataset
    rows, columns = int(header.get("Rows", 0) or 0), int(header.get("Columns", 0) or 0)
    if rows <= 0 or columns <= 0:
        raise InputError("the DICOM file holds no image (no Rows/Columns)", file=name)
    if rows * columns > max_pixels:
        raise PayloadTooLargeError(
            f"the image has {columns}x{rows} = {rows * columns:,} pixels,"
            f" more than the limit of {max_pixels:,}",
            file=name,
        )
    if int(header.get("NumberOfFrames", 1) or 1) != 1:
        raise InputError("multi-frame DICOM is not supported; import one frame per file", file=name)
    if int(header.get("SamplesPerPixel", 1) or 1) != 1:
        raise InputError("only grayscale DICOM is supported (SamplesPerPixel 1)", file=name)
    try:
        pixels = dataset.pixel_array
    except (AttributeError, KeyError):
        raise InputError("the DICOM file has no pixel data", file=name) from None
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        raise InputError(f"cannot decode the DICOM pixels: {exc}", file=name) from None
    tags = {key: _plain(header.get(key)) for key in KEPT_TAGS if header.get(key) not in (None, "")}
    values = np.asarray(pixels)
    if values.ndim != 2:
        raise InputError(f"expected one grayscale frame, got an array of shape {values.shape}", file=name)
    if np.issubdtype(values.dtype, np.signedinteger):
        values = values.astype(np.int32) + 32768
        tags["pixel_offset"] = 32768
    values = np.clip(values, 0, 65535).astype(np.uint16)
    if header.get("PhotometricInterpretation") == "MONOCHROME1":
        values = values.max() - values
    out = io.BytesIO()
    Image.fromarray(values).save(out, "PNG")
    return out.getvalue(), tags
