"""COCO object-detection JSON: read images with their boxes, write boxes back out.

Only the parts of the format that boxes need are used: ``images`` (``id``,
``file_name``, optional ``width``/``height``), ``annotations`` (``image_id``,
``category_id``, ``bbox`` = ``[x, y, w, h]`` in pixels) and ``categories``
(``id``, ``name``). Segmentations, keypoints and captions are ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from hitloop.errors import InputError
from hitloop.formats.records import ItemRecord
from hitloop.formats.source import StrPath

__all__ = ["CocoData", "CocoImage", "coco_document", "read_coco"]

# A box may poke out of its image by this much (float rounding in other tools); it is clipped.
_SLACK_PX = 1.0


@dataclass(frozen=True, slots=True)
class CocoImage:
    """One image of a COCO file with its boxes (``{"x", "y", "w", "h", "label"}``)."""

    record: ItemRecord
    boxes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CocoData:
    images: list[CocoImage]
    categories: list[str]


def read_coco(path: StrPath) -> CocoData:
    """Parse and check a COCO file; image paths are resolved relative to its folder.

    Everything is checked before anything is stored: the JSON, every image's
    entry and file (present, an image, its size as declared), every box
    (known image and category, numbers, positive size, inside the image).

    Raises
    ------
    InputError
        Naming the file, the line (bad JSON) and the field (``images[3].file_name``).
    """
    source = Path(path)
    name = str(path)
    try:
        doc = json.loads(source.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", file=name) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=name, line=exc.lineno) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=name) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise InputError('a COCO file is an object with an "images" list', file=name, field="images")
    categories = _categories(doc.get("categories", []), name)
    folder = source.parent
    images: dict[Any, tuple[ItemRecord, tuple[int, int]]] = {}
    for i, entry in enumerate(doc["images"]):
        where = f"images[{i}]"
        if not isinstance(entry, dict) or not _is_id(entry.get("id")):
            raise InputError("an image needs an integer or string id", file=name, field=f"{where}.id")
        if entry["id"] in images:
            raise InputError(f"image id {entry['id']!r} appears twice", file=name, field=f"{where}.id")
        file_name = entry.get("file_name")
        if not isinstance(file_name, str) or not file_name.strip():
            raise InputError("an image needs a file_name", file=name, field=f"{where}.file_name")
        image_path = _inside(folder, file_name, name, f"{where}.file_name")
        size = _image_size(image_path, name, f"{where}.file_name")
        for key, actual in (("width", size[0]), ("height", size[1])):
            if key in entry and entry[key] != actual:
                raise InputError(
                    f"the file is {size[0]}x{size[1]} pixels but the entry says {key} {entry[key]!r}",
                    file=name,
                    field=f"{where}.{key}",
                )
        record = ItemRecord(
            line=i + 1,
            image_path=image_path,
            external_id=file_name,
            meta={"path": file_name, "coco_id": entry["id"]},
        )
        images[entry["id"]] = (record, size)
    boxes: dict[Any, list[dict[str, Any]]] = {key: [] for key in images}
    annotations = doc.get("annotations", [])
    if not isinstance(annotations, list):
        raise InputError('"annotations" must be a list', file=name, field="annotations")
    for i, ann in enumerate(annotations):
        where = f"annotations[{i}]"
        if not isinstance(ann, dict):
            raise InputError("an annotation must be an object", file=name, field=where)
        image_id, category_id = ann.get("image_id"), ann.get("category_id")
        if not _is_id(image_id) or image_id not in images:
            raise InputError(f"unknown image_id {image_id!r}", file=name, field=f"{where}.image_id")
        if not _is_id(category_id) or category_id not in categories:
            raise InputError(f"unknown category_id {category_id!r}", file=name, field=f"{where}.category_id")
        box = _box(ann.get("bbox"), images[image_id][1], name, f"{where}.bbox")
        boxes[image_id].append({**box, "label": categories[category_id]})
    return CocoData(
        images=[CocoImage(record, boxes[key]) for key, (record, _) in images.items()],
        categories=list(dict.fromkeys(categories.values())),
    )


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and bool(value)
    )


def _categories(raw: Any, name: str) -> dict[Any, str]:
    if not isinstance(raw, list):
        raise InputError('"categories" must be a list', file=name, field="categories")
    out: dict[Any, str] = {}
    for i, cat in enumerate(raw):
        where = f"categories[{i}]"
        if not isinstance(cat, dict) or not _is_id(cat.get("id")):
            raise InputError("a category needs an integer id", file=name, field=f"{where}.id")
        label = cat.get("name")
        if not isinstance(label, str) or not label.strip():
            raise InputError("a category needs a name", file=name, field=f"{where}.name")
        if cat["id"] in out:
            raise InputError(f"category id {cat['id']!r} appears twice", file=name, field=f"{where}.id")
        out[cat["id"]] = label.strip()
    return out


def _inside(folder: Path, file_name: str, name: str, field: str) -> Path:
    path = (folder / file_name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise InputError("the image path leaves the COCO file's folder", file=name, field=field)
    if not path.is_file():
        raise InputError(f"no such image file {file_name!r}", file=name, field=field)
    return path


def _image_size(path: Path, name: str, field: str) -> tuple[int, int]:
    # Reads the header only; the import checks and decodes the whole image later.
    try:
        with Image.open(path) as image:
            return int(image.size[0]), int(image.size[1])
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"not a readable image: {exc}", file=name, field=field) from None


def _box(raw: Any, size: tuple[int, int], name: str, field: str) -> dict[str, float]:
    if (
        not isinstance(raw, list)
        or len(raw) != 4
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in raw)
    ):
        raise InputError("bbox must be [x, y, width, height] in pixels", file=name, field=field)
    x, y, w, h = (float(v) for v in raw)
    width, height = size
    if w <= 0 or h <= 0:
        raise InputError(f"the box has no area ({w}x{h})", file=name, field=field)
    if x < -_SLACK_PX or y < -_SLACK_PX or x + w > width + _SLACK_PX or y + h > height + _SLACK_PX:
        raise InputError(f"the box leaves the {width}x{height} image", file=name, field=field)
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    return {"x": round(x0, 2), "y": round(y0, 2), "w": round(x1 - x0, 2), "h": round(y1 - y0, 2)}


def coco_document(
    categories: list[str], images: list[dict[str, Any]], annotations: list[dict[str, Any]]
) -> dict[str, Any]:
    """Assemble a COCO document.

    ``images`` rows have ``id``, ``file_name``, ``width``, ``height``;
    ``annotations`` rows have ``image_id``, ``boxes`` (hitloop's value) and
    optional extra keys (kept on each COCO annotation, e.g. ``annotator``).
    Category ids are 1-based positions in ``categories``.
    """
    ids = {name: i + 1 for i, name in enumerate(categories)}
    out_annotations: list[dict[str, Any]] = []
    for ann in annotations:
        extra = {k: v for k, v in ann.items() if k not in ("image_id", "boxes")}
        for box in ann["boxes"]:
            out_annotations.append(
                {
                    "id": len(out_annotations) + 1,
                    "image_id": ann["image_id"],
                    "category_id": ids[box["label"]],
                    "bbox": [box["x"], box["y"], box["w"], box["h"]],
                    "area": round(box["w"] * box["h"], 4),
                    "iscrowd": 0,
                    **extra,
                }
            )
    return {
        "images": images,
        "annotations": out_annotations,
        "categories": [{"id": ids[name], "name": name} for name in categories],
    }
