"""Precision and recall of hitloop's face suggestions at IoU 0.5, on faces scikit-image carries.

    python benchmarks/faces.py [--json OUT]

Two sets, both shipped inside scikit-image (no download):

- ``astronaut``: the 512x512 portrait of Eileen Collins; one face, its box drawn
  by hand (mid-forehead to chin, cheek to cheek) and checked on a 3x zoom.
- ``lfw-mosaic``: scikit-image's ``lfw_subset`` has 100 tight 25x25 face crops
  (Labeled Faces in the Wild) and 100 non-face crops. Ten 640x480 mosaics each
  hold 10 faces and 6 non-faces, upscaled to 96x96 (bicubic) on a grid over a
  gray background. A pasted face crop is its own ground-truth box, since the
  crops are tight; non-faces have no box and count against precision when
  detected.
- ``no-faces``: 17 scikit-image pictures without a face (coffee, cats, a rocket,
  coins, the moon, textures, text pages...): every detection is a false positive.

Each detector setting runs through :class:`hitloop.ml.faces.FaceDetector`,
the same code the ``faces`` job uses; matching is one-to-one, greedy by IoU
(:func:`hitloop.ml.boxes.precision_recall`).
"""

from __future__ import annotations

import sys

# This folder comes first on sys.path, where select.py (another benchmark) would
# shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np
from PIL import Image

from hitloop.ml.boxes import precision_recall
from hitloop.ml.faces import FaceDetector

ASTRONAUT_FACE = (178, 73, 95, 104)
NO_FACES = [
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "hubble_deep_field",
    "immunohistochemistry",
    "clock",
    "horse",
    "page",
    "text",
    "cat",
    "colorwheel",
    "logo",
    "brick",
    "grass",
    "gravel",
]
SETTINGS: dict[str, dict[str, Any]] = {
    "default (frontal_alt2, min_neighbors=4)": {},
    "frontal_alt2, min_neighbors=6": {"min_neighbors": 6},
    "frontal_alt2, min_neighbors=2": {"min_neighbors": 2},
    "frontal (default cascade), min_neighbors=4": {"cascade": "frontal"},
    "frontal_alt, min_neighbors=4": {"cascade": "frontal_alt"},
}


def lfw_mosaics(seed: int = 0) -> tuple[list[np.ndarray], list[list[tuple[int, int, int, int]]]]:
    from skimage import data

    crops = data.lfw_subset()  # (200, 25, 25) floats in [0, 1]; first 100 are faces
    rng = np.random.default_rng(seed)
    images, truths = [], []
    for start in range(0, 100, 10):
        canvas = np.full((480, 640), 0.5)
        picks = list(range(start, start + 10)) + list(rng.choice(np.arange(100, 200), 6, replace=False))
        rng.shuffle(picks)
        truth = []
        for slot, index in enumerate(picks):
            row, col = divmod(slot, 4)
            small = Image.fromarray(np.rint(crops[index] * 255).astype(np.uint8))
            crop = small.resize((96, 96), Image.Resampling.BICUBIC)
            y, x = row * 120 + 12, col * 160 + 32
            canvas[y : y + 96, x : x + 96] = np.asarray(crop) / 255.0
            if index < 100:
                truth.append((x, y, 96, 96))
        images.append(np.rint(canvas * 255).astype(np.uint8))
        truths.append(truth)
    return images, truths


def evaluate(images: list[np.ndarray], truths: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    detector = FaceDetector(**params)
    wall, cpu = time.perf_counter(), time.process_time()
    predicted = [detector.detect(image) for image in images]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = precision_recall(predicted, truths, threshold=0.5)
    return {
        "precision": round(counts.precision, 3),
        "recall": round(counts.recall, 3),
        "true_positives": counts.true_positives,
        "false_positives": counts.false_positives,
        "false_negatives": counts.false_negatives,
        # CPU time is the fair figure on a shared machine; wall time depends on the load.
        "cpu_ms_per_image": round(1000 * cpu / len(images), 1),
        "wall_ms_per_image": round(1000 * wall / len(images), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    from skimage import data

    sets = {
        "astronaut": ([data.astronaut()], [[ASTRONAUT_FACE]]),
        "lfw-mosaic": lfw_mosaics(),
        "no-faces": ([getattr(data, name)() for name in NO_FACES], [[] for _ in NO_FACES]),
    }
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average": os.getloadavg()[0],
        "sets": {},
    }
    print(f"{'set':<12} {'setting':<44} {'precision':>9} {'recall':>7} {'TP/FP/FN':>10} {'CPU ms/img':>10}")
    for name, (images, truths) in sets.items():
        results["sets"][name] = {}
        for label, params in SETTINGS.items():
            row = evaluate(images, truths, params)
            results["sets"][name][label] = row
            tp_fp_fn = f"{row['true_positives']}/{row['false_positives']}/{row['false_negatives']}"
            print(
                f"{name:<12} {label:<44} {row['precision']:>9.3f} {row['recall']:>7.3f}"
                f" {tp_fp_fn:>10} {row['cpu_ms_per_image']:>10.1f}"
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()
