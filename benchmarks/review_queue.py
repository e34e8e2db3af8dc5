"""The "likely label errors" review queue end to end: digits as an image project, 10% flipped answers.

    python benchmarks/review_queue.py --json OUT [--noise 0.1] [--seed 0]

scikit-learn's 1,797 handwritten digits are stored as 8x8 grayscale PNG items
of an image project (labels 0-9) in a fresh SQLite database; one annotator
answers every item with its true digit, except ``noise`` of them, answered with
another digit chosen uniformly. The review service then builds the queue the
way the review page does (:func:`hitloop.services.label_error_queue.label_error_queue`:
pixels read back from the media store, out-of-fold logistic regression,
confident-learning count, self-confidence ranking). Reported: precision and
recall of the listed items against the flipped ones, and the queue's wall time.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import argparse
import io
import json
import platform
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from hitloop.db.engine import Database
from hitloop.media.store import MediaStore
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects
from hitloop.services.items import ItemLimits
from hitloop.services.label_error_queue import label_error_queue


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def run(noise: float, seed: int) -> dict[str, object]:
    digits = load_digits()
    rng = np.random.default_rng(seed)
    n = len(digits.target)
    flipped = set(rng.choice(n, size=round(noise * n), replace=False).tolist())
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'hitloop.db'}")
        db.upgrade()
        media = MediaStore(Path(tmp) / "media")
        user = auth.create_user(db, "ann", "ann-password")
        labels = [str(d) for d in range(10)]
        project = projects.create_project(
            db, user.id, ProjectCreate(name="digits", modality="image", labels=labels)
        )
        item_ids = [
            items.add_image(
                db, media, project.id, user.id, _png(img), filename=f"{i}.png", limits=ItemLimits()
            )
            for i, img in enumerate(digits.images)
        ]
        wrong: set[int] = set()
        for i, (item_id, truth) in enumerate(zip(item_ids, digits.target, strict=True)):
            label = int(truth)
            if i in flipped:
                label = int(rng.choice([d for d in range(10) if d != truth]))
                wrong.add(item_id)
            body = AnnotationIn(value={"label": str(label)}, client_key=uuid.uuid4().hex)
            annotations.submit(db, user.id, item_id, body)
        start = time.perf_counter()
        queue = label_error_queue(db, media, project.id, limit=n)
        seconds = time.perf_counter() - start
        db.dispose()
    listed = {e.item.id for e in queue.entries}
    hits = len(listed & wrong)
    return {
        "items": n,
        "flipped": len(wrong),
        "listed": len(listed),
        "precision": round(hits / len(listed), 3) if listed else None,
        "recall": round(hits / len(wrong), 3),
        "queue_seconds": round(seconds, 2),
        "noise": noise,
        "seed": seed,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = run(args.noise, args.seed)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
