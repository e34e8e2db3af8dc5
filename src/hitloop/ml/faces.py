"""Face detection with the Haar cascades that ship inside ``opencv-python-headless``.

Viola and Jones (2001), "Rapid object detection using a boosted cascade of
simple features", CVPR. The cascade files come with the OpenCV wheel (4.x;
5.x ships none), so nothing is downloaded.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hitloop.errors import MissingExtraError

__all__ = ["CASCADES", "FaceDetector"]

# Friendly name -> cascade file in cv2.data.haarcascades.
CASCADES = {
    "frontal": "haarcascade_frontalface_default.xml",
    "frontal_alt": "haarcascade_frontalface_alt.xml",
    "frontal_alt2": "haarcascade_frontalface_alt2.xml",
    "profile": "haarcascade_profileface.xml",
}


def _require_cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise MissingExtraError(
            "face detection needs OpenCV: pip install 'hitloop[images]' (opencv-python-headless<5)"
        ) from None
    return cv2


@cache
def _classifier(cascade: str) -> Any:
    cv2 = _require_cv2()
    path = Path(cv2.data.haarcascades) / CASCADES[cascade]
    if not path.is_file():
        raise FileNotFoundError(f"OpenCV carries no {path.name}; OpenCV 5 dropped the cascades, use 4.x")
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise RuntimeError(f"OpenCV could not load {path}")
    return classifier


class FaceDetector:
    """Find faces in an image; returns boxes ``(x, y, w, h)`` in the image's pixels.

    Parameters
    ----------
    cascade : one of :data:`CASCADES`.
    scale_factor : step between the scales searched (> 1).
    min_neighbors : overlapping raw detections needed to keep a face; higher is stricter.
    min_size : smallest face side searched, in pixels of the (possibly shrunk) image.
    max_side : images larger than this on their long side are shrunk before
        detection (faster, fewer false alarms in texture); boxes are scaled back.
    """

    def __init__(
        self,
        *,
        cascade: str = "frontal_alt2",
        scale_factor: float = 1.1,
        min_neighbors: int = 4,
        min_size: int = 20,
        max_side: int = 1280,
    ) -> None:
        self.cascade = cascade
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_side = max_side

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "cascade": self.cascade,
            "scale_factor": self.scale_factor,
            "min_neighbors": self.min_neighbors,
            "min_size": self.min_size,
            "max_side": self.max_side,
        }

    def _check(self) -> None:
        if self.cascade not in CASCADES:
            raise ValueError(f"unknown cascade {self.cascade!r}; use one of {', '.join(CASCADES)}")
        if not self.scale_factor > 1.0:
            raise ValueError("scale_factor must be greater than 1")
        if self.min_neighbors < 0 or self.min_size < 1 or self.max_side < 32:
            raise ValueError("min_neighbors >= 0, min_size >= 1 and max_side >= 32 are needed")

    def detect(self, image: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Boxes of the faces in ``image``: (n, 4) floats, largest face first.

        ``image`` is (H, W) grayscale or (H, W, 3|4) RGB(A), any numeric dtype
        (floats are taken to lie in [0, 1], other integers are rescaled to 8 bits).
        """
        self._check()
        cv2 = _require_cv2()
        gray = _to_gray_u8(np.asarray(image))
        scale = 1.0
        longest = max(gray.shape)
        if longest > self.max_side:
            scale = self.max_side / longest
            size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        found = _classifier(self.cascade).detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        boxes = np.asarray(found, dtype=np.float64).reshape(-1, 4) / scale
        order = np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")
        return boxes[order]


def _to_gray_u8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    if image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = image[..., :3].astype(np.float64)
        gray = rgb @ np.array([0.299, 0.587, 0.114])
    elif image.ndim == 2:
        gray = image.astype(np.float64)
    else:
        raise ValueError(f"expected an (H, W) or (H, W, 3|4) image, got shape {image.shape}")
    if np.issubdtype(image.dtype, np.floating):
        gray = gray * 255.0
    elif image.dtype != np.uint8:
        top = float(gray.max()) if gray.size else 0.0
        gray = gray * (255.0 / top) if top > 0 else gray
    out: npt.NDArray[np.uint8] = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return out
