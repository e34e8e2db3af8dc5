"""Face detection with OpenCV's packaged Haar cascades, on a real photograph scikit-image carries."""

from __future__ import annotations

import numpy as np
import pytest

from hitloop.ml.boxes import iou_matrix
from hitloop.ml.faces import FaceDetector

skimage_data = pytest.importorskip("skimage.data")

# Drawn by hand on scikit-image's astronaut (Eileen Collins): mid-forehead to chin, cheek to cheek.
ASTRONAUT_FACE = (178, 73, 95, 104)


def test_finds_the_astronauts_face() -> None:
    boxes = FaceDetector().detect(skimage_data.astronaut())
    assert boxes.shape == (1, 4)
    assert iou_matrix(boxes, [ASTRONAUT_FACE])[0, 0] >= 0.5


def test_boxes_come_back_in_original_pixels_when_the_image_is_shrunk() -> None:
    big = np.kron(skimage_data.astronaut(), np.ones((4, 4, 1), dtype=np.uint8))  # 2048 x 2048
    boxes = FaceDetector(max_side=512).detect(big)
    truth = np.array([ASTRONAUT_FACE], dtype=float) * 4
    assert len(boxes) == 1
    assert iou_matrix(boxes, truth)[0, 0] >= 0.5


@pytest.mark.parametrize(
    "image",
    [np.zeros((200, 300), dtype=np.uint8), np.full((64, 64, 3), 0.5), np.zeros((50, 50, 4), dtype=np.uint16)],
    ids=["gray-u8", "rgb-float", "rgba-u16"],
)
def test_blank_images_have_no_faces(image: np.ndarray) -> None:
    assert FaceDetector().detect(image).shape == (0, 4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cascade": "cat"}, "unknown cascade"),
        ({"scale_factor": 1.0}, "scale_factor"),
        ({"min_size": 0}, "min_size"),
    ],
    ids=["cascade", "scale", "min-size"],
)
def test_bad_parameters_fail_at_call_time(params: dict[str, object], message: str) -> None:
    detector = FaceDetector(**params)  # type: ignore[arg-type]
    assert detector.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=message):
        detector.detect(np.zeros((32, 32)))


def test_refuses_images_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        FaceDetector().detect(np.zeros((4, 4, 2)))
