"""Features computed once per project and kept on disk, aligned with item ids (DESIGN §4.3).

``data_dir/features/<project_id>/<key>.joblib`` holds the sorted item ids, the
feature matrix (one row per id) and the fitted featurizer; ``key`` names the
featurizer and its parameters. The file is written to a temporary name and
renamed, so readers never see half of it. Training and scoring read it; a
process keeps the last loaded bundle of each project in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Item, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.jobs import JobContext
from hitloop.media.store import MediaStore
from hitloop.ml.audio import featurizer_samplerate
from hitloop.ml.defaults import default_featurizer
from hitloop.settings import Settings
from hitloop.types import ItemState

__all__ = [
    "FeatureBundle",
    "feature_path",
    "featurize",
    "featurize_job",
    "load_features",
    "up_to_date",
]

CHUNK = 5_000
MEDIA_CHUNK = CHUNK // 10  # decoded images and recordings are far larger than texts
FIT_SAMPLE_MEDIA = 500


@dataclass(frozen=True)
class FeatureBundle:
    """Item ids (sorted), their features (one row each) and the featurizer that made them."""

    ids: NDArray[np.int64]
    X: Any
    featurizer: Any
    key: str
    #: Changes every time the features are recomputed (a model is only valid for its generation).
    generation: str

    def positions(self, item_ids: Any) -> NDArray[np.intp]:
        """Row of each item id; every id must be present."""
        wanted = np.asarray(item_ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, wanted)
        pos = np.minimum(pos, len(self.ids) - 1)
        if len(wanted) and not np.array_equal(self.ids[pos], wanted):
            raise LookupError("some items have no features yet")
        return pos.astype(np.intp)


def _featurizer_for(modality: str, project_settings: dict[str, Any]) -> tuple[Any, str]:
    name = project_settings.get("featurizer")
    params = dict(project_settings.get("featurizer_params") or {})
    if name:
        from hitloop import plugins

        featurizer = plugins.make_featurizer(str(name), **params)
    else:
        try:
            featurizer = default_featurizer(modality)
        except ValueError as exc:
            raise InputError(str(exc), field="modality") from None
        name = "default"
    described = json.dumps({"name": name, "params": featurizer.get_params(deep=False)}, default=repr)
    return featurizer, f"{name}-{hashlib.sha1(described.encode()).hexdigest()[:10]}"


def feature_path(settings: Settings, project_id: int, key: str) -> Path:
    return settings.features_dir / str(project_id) / f"{key}.joblib"


_cache: dict[int, tuple[Path, int, FeatureBundle]] = {}
_cache_lock = threading.Lock()


def load_features(settings: Settings, project_id: int, key: str) -> FeatureBundle | None:
    """The stored bundle, or None if this featurizer has not run for the project."""
    path = feature_path(settings, project_id, key)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    with _cache_lock:
        hit = _cache.get(project_id)
        if hit is not None and hit[0] == path and hit[1] == stamp:
            return hit[2]
    stored = joblib.load(path)
    bundle = FeatureBundle(
        ids=stored["ids"],
        X=stored["X"],
        featurizer=stored["featurizer"],
        key=key,
        generation=stored["generation"],
    )
    with _cache_lock:
        _cache[project_id] = (path, stamp, bundle)
    return bundle


def _save(path: Path, bundle: FeatureBundle) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".joblib")
    os.close(fd)
    try:
        stored = {
            "ids": bundle.ids,
            "X": bundle.X,
            "featurizer": bundle.featurizer,
            "generation": bundle.generation,
        }
        joblib.dump(stored, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with _cache_lock:
        _cache[int(path.parent.name)] = (path, path.stat().st_mtime_ns, bundle)


def _project(db: Database, project_id: int) -> Project:
    with db.read() as s:
        project = s.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return project


# Every item but those of an unfinished import: started (partial) and gold items are
# trained on or scored like the rest (a gold item gets a suggestion like any other item).
_STAGED = ItemState.STAGED.value


def up_to_date(db: Database, settings: Settings, project_id: int) -> FeatureBundle | None:
    """The stored features if they cover exactly the project's current items, else None."""
    project = _project(db, project_id)
    _, key = _featurizer_for(project.modality, project.settings or {})
    bundle = load_features(settings, project_id, key)
    if bundle is None:
        return None
    with db.read() as s:
        count, top = s.execute(
            select(func.count(), func.max(Item.id)).where(
                Item.project_id == project_id, Item.state != _STAGED
            )
        ).one()
    if count != len(bundle.ids) or (count and int(top) != int(bundle.ids[-1])):
        return None
    return bundle


# Chunk functions run on Dask workers too: module-level, arguments pickled.
def _transform_texts(args: tuple[Any, list[str]]) -> Any:
    featurizer, texts = args
    return featurizer.transform(texts)


def _transform_images(args: tuple[Any, list[str]]) -> Any:
    featurizer, paths = args
    return featurizer.transform([_read_image(Path(p)) for p in paths])


def _transform_audio(args: tuple[Any, list[str]]) -> Any:
    featurizer, paths = args
    rate = featurizer_samplerate(featurizer)
    return featurizer.transform([_read_audio(Path(p), rate) for p in paths])


def _read_audio(path: Path, rate: int) -> NDArray[np.float32]:
    from hitloop.formats.audio import decode_audio

    return decode_audio(path, samplerate=rate)[0]


def _read_image(path: Path) -> NDArray[np.float64]:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float64)


def featurize(ctx: JobContext, project_id: int) -> FeatureBundle:
    """Fit the project's featurizer on its items, transform them in chunks, store the result."""
    project = _project(ctx.db, project_id)
    featurizer, key = _featurizer_for(project.modality, project.settings or {})
    with ctx.db.read() as s:
        rows = s.execute(
            select(Item.id, Item.text, Item.media_sha256)
            .where(Item.project_id == project_id, Item.state != _STAGED)
            .order_by(Item.id)
        ).all()
    if not rows:
        raise InputError(f"project {project_id} has no items to featurize", field="project_id")
    ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
    ctx.progress(0.05, f"fitting the featurizer on {len(rows)} items", force=True)
    if project.modality == "text":
        texts = [r.text or "" for r in rows]
        featurizer.fit(texts)
        chunks: list[tuple[Any, list[str]]] = [
            (featurizer, texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)
        ]
        transform = _transform_texts
    elif project.modality in ("image", "audio"):
        store = MediaStore(ctx.settings.media_dir)
        paths = [str(store.path_for(r.media_sha256)) for r in rows]
        sample: list[Any]
        if project.modality == "image":
            sample = [_read_image(Path(p)) for p in paths[:FIT_SAMPLE_MEDIA]]
            shapes = {a.shape for a in sample}
            params = featurizer.get_params()
            if len(shapes) > 1 and "size" in params and params["size"] is None:
                featurizer.set_params(size=(64, 64))  # mixed sizes: compare images at one size
            transform = _transform_images
        else:
            rate = featurizer_samplerate(featurizer)
            sample = [_read_audio(Path(p), rate) for p in paths[:FIT_SAMPLE_MEDIA]]
            transform = _transform_audio
        featurizer.fit(sample)
        chunks = [(featurizer, paths[i : i + MEDIA_CHUNK]) for i in range(0, len(paths), MEDIA_CHUNK)]
    else:
        raise InputError(f"no featurizer for {project.modality} items yet", field="modality")
    ctx.progress(0.2, f"transforming {len(rows)} items in {len(chunks)} chunks", force=True)
    parts = ctx.map(transform, chunks)
    X = sp.vstack(parts, format="csr") if sp.issparse(parts[0]) else np.vstack([np.asarray(p) for p in parts])
    ctx.check_cancelled()
    bundle = FeatureBundle(ids=ids, X=X, featurizer=featurizer, key=key, generation=uuid.uuid4().hex)
    ctx.progress(0.9, "writing features", force=True)
    _save(feature_path(ctx.settings, project_id, key), bundle)
    return bundle


def featurize_job(ctx: JobContext) -> dict[str, Any]:
    """The ``featurize`` job: features for every item, then a retrained model or a cold-start order."""
    if ctx.project_id is None:
        raise InputError("a featurize job needs a project", field="project_id")
    with ctx.stage(0.0, 0.5):
        bundle = featurize(ctx, ctx.project_id)
    from hitloop.services import scoring, training

    summary = {"items": len(bundle.ids), "features": int(bundle.X.shape[1]), "key": bundle.key}
    with ctx.stage(0.5, 1.0):
        if training.has_model(ctx.db, ctx.project_id):
            # New features make the old model's inputs meaningless: retrain on them.
            return {**summary, **training.train(ctx, ctx.project_id)}
        return {**summary, **scoring.rescore(ctx, ctx.project_id, bundle)}
