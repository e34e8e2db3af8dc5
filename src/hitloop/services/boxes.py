"""Boxes projects: face suggestions, COCO import and export, box quality measures."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, delete, func, insert, select

from hitloop.db.engine import Database
from hitloop.db.sql import json_out
from hitloop.db.tables import Annotation, Item, Media, Project, Suggestion, User
from hitloop.errors import InputError, NotFoundError
from hitloop.formats.records import ItemRecord
from hitloop.jobs import JobContext
from hitloop.media.store import MediaStore
from hitloop.services.audit import record_event
from hitloop.services.items import ItemLimits, import_records
from hitloop.services.state_cache import StateCache, answer_state
from hitloop.types import ItemState, TaskType

__all__ = [
    "box_quality",
    "check_faces_request",
    "export_coco",
    "faces_job",
    "get_suggestion",
    "import_coco",
    "recent_images",
    "suggest_faces",
]

items_t = cast(Table, Item.__table__)
media_t = cast(Table, Media.__table__)
suggestions_t = cast(Table, Suggestion.__table__)
annotations_t = cast(Table, Annotation.__table__)

Progress = Callable[[int, int], None]
_BATCH = 50


def _boxes_project(s: Any, project_id: int) -> Project:
    project = s.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    if project.task != TaskType.BOXES.value:
        raise InputError(f"project {project_id} is a {project.task} project, not boxes", field="project_id")
    return cast(Project, project)


def _write_suggestions(
    db: Database, project_id: int, found: dict[int, list[dict[str, Any]]], explanation: dict[str, Any]
) -> None:
    now = time.time()
    with db.write() as s:
        s.execute(delete(suggestions_t).where(suggestions_t.c.item_id.in_(list(found))))
        s.execute(
            insert(suggestions_t),
            [
                {
                    "item_id": item_id,
                    "project_id": project_id,
                    "model_version_id": None,
                    "value": {"boxes": boxes},
                    "label": None,
                    "confidence": None,
                    "probs": None,
                    "explanation": explanation,
                    "created_at": now,
                }
                for item_id, boxes in found.items()
            ],
        )


# ---- face suggestions --------------------------------------------------------


def check_faces_request(
    db: Database, project_id: int, *, label: str | None = None, params: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """The detector and face label of a faces run, or the InputError that names what is wrong.

    Called when the job is asked for (so a wrong label or detector setting is a 4xx
    and queues nothing) and again when it runs. ``label`` defaults to ``face`` if the
    project has it, else its first label.
    """
    from hitloop.ml.faces import FaceDetector

    with db.read() as s:
        labels = list(_boxes_project(s, project_id).labels)
    params = dict(params or {})
    unknown = sorted(set(params) - set(FaceDetector().get_params()))
    if unknown:
        raise InputError(f"unknown detector parameter {unknown[0]!r}", field=f"params.{unknown[0]}")
    detector = FaceDetector(**params)
    try:
        detector.detect(np.zeros((32, 32), dtype=np.uint8))  # checks the parameters
    except (ValueError, TypeError) as exc:
        raise InputError(f"bad detector parameters: {exc}", field="params") from None
    face = label if label is not None else ("face" if "face" in labels else labels[0])
    if face not in labels:
        raise InputError(f"{face!r} is not a label of project {project_id}", field="label")
    return detector, face


def suggest_faces(
    db: Database,
    store: MediaStore,
    project_id: int,
    *,
    label: str | None = None,
    params: dict[str, Any] | None = None,
    redo: bool = False,
    progress: Progress | None = None,
    cancelled: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Pre-draw face boxes as suggestions on the project's unanswered images.

    ``label`` is the project label given to faces (default: ``face`` if the
    project has it, else its first label). Items that already have a
    suggestion are skipped unless ``redo``. Returns ``{"items", "boxes"}``.
    ``cancelled`` is called between batches and may raise to stop.
    """
    detector, face = check_faces_request(db, project_id, label=label, params=params)
    with db.read() as s:
        query = (
            select(items_t.c.id, items_t.c.media_sha256)
            .where(
                items_t.c.project_id == project_id,
                items_t.c.state.in_([ItemState.OPEN.value, ItemState.LEASED.value]),
                items_t.c.media_sha256.is_not(None),
            )
            .order_by(items_t.c.id)
        )
        if not redo:
            has = select(suggestions_t.c.item_id).where(suggestions_t.c.item_id == items_t.c.id).exists()
            query = query.where(~has)
        todo = [(int(r.id), str(r.media_sha256)) for r in s.execute(query)]
    explanation = {"source": "faces", "detector": detector.get_params()}
    total_boxes = 0
    for start in range(0, len(todo), _BATCH):
        if cancelled is not None:
            cancelled()
        found: dict[int, list[dict[str, Any]]] = {}
        for item_id, sha in todo[start : start + _BATCH]:
            pixels = _load_pixels(store.path_for(sha))
            height, width = pixels.shape[:2]
            found[item_id] = [_clip(box, width, height, face) for box in detector.detect(pixels)]
            total_boxes += len(found[item_id])
        _write_suggestions(db, project_id, found, explanation)
        if progress is not None:
            progress(min(start + _BATCH, len(todo)), len(todo))
    with db.write() as s:
        detail = {"items": len(todo), "boxes": total_boxes}
        record_event(s, None, project_id, "suggestions.faces", "project", project_id, detail)
    return {"items": len(todo), "boxes": total_boxes}


def _load_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            return np.asarray(image)
        return np.asarray(image.convert("RGB"))


def _clip(box: np.ndarray, width: int, height: int, label: str) -> dict[str, Any]:
    x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
    x1, y1 = min(float(width), float(box[0] + box[2])), min(float(height), float(box[1] + box[3]))
    return {
        "x": round(x0, 2),
        "y": round(y0, 2),
        "w": round(x1 - x0, 2),
        "h": round(y1 - y0, 2),
        "label": label,
    }


def get_suggestion(db: Database, item_id: int) -> dict[str, Any] | None:
    """The stored suggestion for one item (value and where it came from), or None."""
    with db.read() as s:
        row = s.execute(
            select(
                suggestions_t.c.value, suggestions_t.c.explanation, suggestions_t.c.model_version_id
            ).where(suggestions_t.c.item_id == item_id)
        ).first()
    if row is None:
        return None
    return {
        "value": json_out(row.value),
        "explanation": json_out(row.explanation),
        "model_version_id": row.model_version_id,
    }


# ---- COCO --------------------------------------------------------------------


def import_coco(
    db: Database,
    store: MediaStore,
    project_id: int,
    user_id: int | None,
    path: Path,
    *,
    limits: ItemLimits,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Import a COCO file: its images become items, its boxes their suggestions.

    Everything in the file is checked first (see :func:`hitloop.formats.coco.read_coco`);
    a category that is not a project label is refused. The images go in
    all-or-nothing through the usual import; the boxes are then written as
    suggestions (source ``coco``) for people to confirm or correct.
    """
    from hitloop.formats.coco import read_coco

    data = read_coco(path)
    with db.read() as s:
        labels = set(_boxes_project(s, project_id).labels)
    for name in data.categories:
        if name not in labels:
            raise InputError(
                f"category {name!r} is not a label of project {project_id}",
                file=str(path),
                field="categories",
            )
    records: list[ItemRecord] = [image.record for image in data.images]
    result = import_records(
        db, store, project_id, user_id, records, source=str(path), limits=limits, progress=progress
    )
    with db.read() as s:
        ids = list(
            s.scalars(
                select(items_t.c.id).where(items_t.c.import_id == result.import_id).order_by(items_t.c.id)
            )
        )
    found = {item_id: image.boxes for item_id, image in zip(ids, data.images, strict=True) if image.boxes}
    if found:
        _write_suggestions(db, project_id, found, {"source": "coco", "file": path.name})
    return {"images": len(ids), "boxes": sum(len(b) for b in found.values())}


def export_coco(db: Database, project_id: int) -> dict[str, Any]:
    """The project's current (not superseded, not skipped) box answers as a COCO document.

    One COCO image per answered item (``file_name``: the imported path, else
    the external id, else the stored file's SHA-256); each box carries its
    ``annotator``.
    """
    from hitloop.formats.coco import coco_document

    with db.read() as s:
        project = _boxes_project(s, project_id)
        rows = s.execute(
            select(
                annotations_t.c.item_id,
                annotations_t.c.value,
                items_t.c.external_id,
                items_t.c.meta,
                items_t.c.media_sha256,
                media_t.c.width,
                media_t.c.height,
                User.username,
            )
            .join(items_t, items_t.c.id == annotations_t.c.item_id)
            .join(media_t, media_t.c.sha256 == items_t.c.media_sha256)
            .join(User, User.id == annotations_t.c.user_id)
            .where(
                annotations_t.c.project_id == project_id,
                annotations_t.c.superseded_by.is_(None),
                annotations_t.c.skipped.is_(False),
            )
            .order_by(annotations_t.c.id)
        ).all()
        labels = list(project.labels)
    images: dict[int, dict[str, Any]] = {}
    annotations: list[dict[str, Any]] = []
    for row in rows:
        if row.item_id not in images:
            meta = json_out(row.meta) or {}
            images[row.item_id] = {
                "id": row.item_id,
                "file_name": meta.get("path") or row.external_id or row.media_sha256,
                "width": row.width,
                "height": row.height,
            }
        value = json_out(row.value) or {}
        annotations.append(
            {"image_id": row.item_id, "boxes": value.get("boxes", []), "annotator": row.username}
        )
    return coco_document(labels, list(images.values()), annotations)


# ---- quality -----------------------------------------------------------------


# Computed quality per database, by (project, threshold), kept until the state moves:
# the newest answer and audit event (a new answer or edit; a review withdrawing or fixing
# an answer, deleted items, a face job) and the suggestions' count and newest time (a
# face job rewriting them).
_QUALITY_CACHE: StateCache[dict[str, Any]] = StateCache(entries=256)


def _quality_state(s: Any, project_id: int) -> tuple[Any, ...]:
    """Index seeks and one index range: no answer is read."""
    n_suggested, newest_suggestion = s.execute(
        select(func.count(), func.max(suggestions_t.c.created_at)).where(
            suggestions_t.c.project_id == project_id
        )
    ).one()
    return (*answer_state(s, project_id), n_suggested, newest_suggestion)


def box_quality(db: Database, project_id: int, *, threshold: float = 0.5) -> dict[str, Any]:
    """How suggestions fared and how people agree, from current answers.

    - ``edits``: suggested boxes kept, moved (or relabeled) and deleted, and boxes added;
    - ``suggestions``: precision and recall of suggested boxes against people's boxes
      at IoU ``threshold``, and mean IoU agreement person vs suggestion;
    - ``people``: mean IoU agreement between two people on the same image, and the
      number of such pairs.

    The project page shows this on every view, so the result is kept until an
    answer, a review, a face job or another audited change moves the project's
    state (:func:`_quality_state`); a view in between costs three index lookups.
    A result whose state has held for a few seconds is computed once more (an
    answer committed out of id order on PostgreSQL leaves the state as it was).
    """
    with db.read() as s:
        _boxes_project(s, project_id)
        state = _quality_state(s, project_id)
    return _QUALITY_CACHE.get(
        db, (project_id, float(threshold)), state, lambda: _compute_quality(db, project_id, threshold)
    )


def _compute_quality(db: Database, project_id: int, threshold: float) -> dict[str, Any]:
    from hitloop.ml.boxes import as_boxes, box_agreement, compare_edits, precision_recall

    with db.read() as s:
        answers = s.execute(
            select(annotations_t.c.item_id, annotations_t.c.user_id, annotations_t.c.value)
            .where(
                annotations_t.c.project_id == project_id,
                annotations_t.c.superseded_by.is_(None),
                annotations_t.c.skipped.is_(False),
            )
            .order_by(annotations_t.c.item_id, annotations_t.c.user_id)
        ).all()
        suggested = {
            int(r.item_id): (json_out(r.value) or {}).get("boxes", [])
            for r in s.execute(
                select(suggestions_t.c.item_id, suggestions_t.c.value).where(
                    suggestions_t.c.project_id == project_id
                )
            )
        }

    def arr(boxes: list[dict[str, Any]]) -> np.ndarray:
        return as_boxes([[b["x"], b["y"], b["w"], b["h"]] for b in boxes])

    by_item: dict[int, list[list[dict[str, Any]]]] = defaultdict(list)
    for row in answers:
        by_item[int(row.item_id)].append((json_out(row.value) or {}).get("boxes", []))
    edits = {"kept": 0, "moved": 0, "deleted": 0, "added": 0}
    preds: list[np.ndarray] = []
    truths: list[np.ndarray] = []
    vs_suggestion: list[float] = []
    between_people: list[float] = []
    for item_id, people in by_item.items():
        for a, b in itertools.combinations(people, 2):
            between_people.append(box_agreement(arr(a), arr(b), threshold=threshold))
        if item_id not in suggested:
            continue
        sugg = suggested[item_id]
        for final in people:
            counts = compare_edits(
                arr(sugg),
                arr(final),
                suggested_labels=[b["label"] for b in sugg],
                final_labels=[b["label"] for b in final],
            )
            for key in edits:
                edits[key] += getattr(counts, key)
            preds.append(arr(sugg))
            truths.append(arr(final))
            vs_suggestion.append(box_agreement(arr(sugg), arr(final), threshold=threshold))
    pr = precision_recall(preds, truths, threshold=threshold)

    def mean(values: list[float]) -> float | None:
        return round(float(np.mean(values)), 4) if values else None

    return {
        "threshold": threshold,
        "edits": edits,
        "suggestions": {
            "answers_compared": len(preds),
            "precision": round(pr.precision, 4) if preds else None,
            "recall": round(pr.recall, 4) if preds else None,
            "agreement": mean(vs_suggestion),
        },
        "people": {"pairs": len(between_people), "agreement": mean(between_people)},
    }


def faces_job(ctx: JobContext) -> dict[str, Any]:
    """The ``faces`` job: :func:`suggest_faces` on the project's unanswered images.

    ``args``: optional ``label``, ``redo`` and ``params`` (of :class:`hitloop.ml.faces.FaceDetector`).
    """
    if ctx.project_id is None:
        raise InputError("a faces job needs a project", field="project_id")
    params = ctx.args.get("params")
    if params is not None and not isinstance(params, dict):
        raise InputError("params must be an object", field="args.params")

    def progress(done: int, total: int) -> None:
        ctx.progress(done / total if total else 1.0, f"{done:,} of {total:,} images")

    return suggest_faces(
        ctx.db,
        MediaStore(ctx.settings.media_dir),
        ctx.project_id,
        label=ctx.args.get("label"),
        params=params,
        redo=bool(ctx.args.get("redo", False)),
        progress=progress,
        cancelled=ctx.check_cancelled,
    )


def recent_images(db: Database, project_id: int, *, limit: int = 12) -> list[int]:
    """Ids of the project's newest items that have an image (for thumbnails)."""
    with db.read() as s:
        return [
            int(i)
            for i in s.scalars(
                select(items_t.c.id)
                .where(
                    items_t.c.project_id == project_id,
                    items_t.c.state != ItemState.STAGED.value,
                    items_t.c.media_sha256.is_not(None),
                )
                .order_by(items_t.c.id.desc())
                .limit(limit)
            )
        ]
