"""Features computed once per project and kept on disk, aligned with item ids (DESIGN §4.3).

:mod:`hitloop.services.feature_store` keeps, per project and featurizer
(``key`` names it and its parameters), the sorted item ids, the feature
matrix (one row per id) and the fitted featurizer: a base file plus a chunk
file for each addition, each written to a temporary name and renamed, so
readers never see half of one. Training and scoring read them; a process
keeps the last loaded bundle of each project in memory.

Items added after the features were made are transformed alone with the
stored fitted featurizer and their rows appended in a chunk (:func:`featurize`): the
feature space and the generation stay the same, so the current model scores
them. The featurizer is fitted again on every item when there are no stored
features for the current featurizer, an item was deleted, an older item
appears (an import finished after a later addition), or the pool has grown by
more than :data:`REFIT_GROWTH` since the featurizer was fitted.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sqlalchemy import BigInteger, cast, func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Item, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.jobs import JobContext
from hitloop.media.store import MediaStore
from hitloop.ml.audio import featurizer_samplerate
from hitloop.ml.defaults import default_featurizer
from hitloop.services.feature_store import FeatureBundle, append_rows, feature_path, load_features, save_base
from hitloop.settings import Settings
from hitloop.types import ItemState

__all__ = [
    "REFIT_GROWTH",
    "FeatureBundle",
    "feature_path",
    "featurize",
    "featurize_items",
    "featurize_job",
    "load_features",
    "up_to_date",
]

CHUNK = 5_000
#: Refit when the pool has grown by more than this share of the items the featurizer was
#: fitted on (0.2: 20% more items); below it new items are transformed alone and appended.
#: A refit keeps TF-IDF's vocabulary and weights representative of the pool.
REFIT_GROWTH = 0.2
MEDIA_CHUNK = CHUNK // 10  # decoded images and recordings are far larger than texts
FIT_SAMPLE_MEDIA = 500


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
    """Features for every item of the project, stored: new items appended, or everything refitted.

    When the stored features of the project's current featurizer cover a
    prefix of its items (only items with higher ids were added since) and
    the pool grew by at most :data:`REFIT_GROWTH`, only the new items are
    transformed, with the stored fitted featurizer, and their rows appended:
    the bundle keeps its generation, so a model trained on it stays valid.
    Otherwise the featurizer is fitted on all items and every item
    transformed (a new generation).
    """
    return featurize_items(ctx, project_id)[0]


def featurize_items(ctx: JobContext, project_id: int) -> tuple[FeatureBundle, int | None]:
    """:func:`featurize`, and how many rows it appended (None: it fitted the featurizer again)."""
    project = _project(ctx.db, project_id)
    featurizer, key = _featurizer_for(project.modality, project.settings or {})
    stored = load_features(ctx.settings, project_id, key)
    if stored is not None and project.modality in _FEATURIZED:
        new_ids = _added_since(ctx.db, project_id, stored)
        if new_ids is not None and _same_last_item(ctx.db, stored):
            appended = _append(ctx, project, stored, new_ids)
            if appended is not None:
                return appended, len(new_ids)
    with ctx.db.read() as s:
        count = s.scalar(select(func.count()).where(Item.project_id == project_id, Item.state != _STAGED))
    if not count:
        raise InputError(f"project {project_id} has no items to featurize", field="project_id")
    if project.modality not in _FEATURIZED:
        raise InputError(f"no featurizer for {project.modality} items yet", field="modality")
    return _fit_all(ctx, project, featurizer, key), None


_FEATURIZED = ("text", "image", "audio")
# Moduli of the id checksums (each term below 2**31: sums of a billion items fit in 64 bits).
_MOD_SUM, _MOD_SQUARES = 65_521, 2_147_483_647


def _added_since(db: Database, project_id: int, stored: FeatureBundle) -> NDArray[np.int64] | None:
    """The ids of the items added after the stored ones, if only that changed and few enough.

    None when an item of the stored ones is gone or an older one appeared
    (an import finished after a later addition): the items up to the last
    stored id must be the stored ones, checked by their count and two sums
    the database computes (no id is sent over), and there must be new items,
    at most :data:`REFIT_GROWTH` more than the featurizer was fitted on.
    """
    last = int(stored.ids[-1])
    mine = (Item.project_id == project_id, Item.state != _STAGED)
    wide = cast(Item.id, BigInteger)  # PostgreSQL's ids are 32-bit: their squares are not
    with db.read() as s:
        count, by_sum, by_squares = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(wide % _MOD_SUM), 0),
                func.coalesce(func.sum((wide * wide) % _MOD_SQUARES), 0),
            ).where(*mine, Item.id <= last)
        ).one()
        limit = int(stored.fitted_items * (1 + REFIT_GROWTH)) - len(stored.ids)
        new = s.scalars(select(Item.id).where(*mine, Item.id > last).order_by(Item.id).limit(limit + 1)).all()
    ids = stored.ids
    same = (
        int(count) == len(ids)
        and int(by_sum) == int((ids % _MOD_SUM).sum())
        and int(by_squares) == int(((ids * ids) % _MOD_SQUARES).sum())
    )
    if not same or not 0 < len(new) <= limit:
        return None
    return np.asarray(new, dtype=np.int64)


def _fingerprint(row: Any) -> str:
    """What tells one item from another that got its id after it was deleted."""
    described = f"{row.text}\x00{row.media_sha256}\x00{row.created_at!r}"
    return hashlib.sha1(described.encode()).hexdigest()


def _same_last_item(db: Database, stored: FeatureBundle) -> bool:
    """True if the stored last row's item is still the item it was (not deleted, its id reused).

    Ids are only reused above the highest remaining one, so when every stored id
    is present, a reused one implies the highest stored id was reused too.
    """
    with db.read() as s:
        row = s.execute(
            select(Item.text, Item.media_sha256, Item.created_at).where(Item.id == int(stored.ids[-1]))
        ).one_or_none()
    return row is not None and stored.last_item == _fingerprint(row)


def _sources(ctx: JobContext, project: Project, rows: Any) -> list[str]:
    """What the chunk functions read: the texts, or the media files' paths."""
    if project.modality == "text":
        return [r.text or "" for r in rows]
    store = MediaStore(ctx.settings.media_dir)
    return [str(store.path_for(r.media_sha256)) for r in rows]


def _transform_all(ctx: JobContext, modality: str, featurizer: Any, sources: list[str]) -> Any:
    """Transform the items in chunks (``ctx.map``: threads or Dask workers), stacked in order."""
    if modality == "text":
        size, transform = CHUNK, _transform_texts
    else:
        size = MEDIA_CHUNK
        transform = _transform_images if modality == "image" else _transform_audio
    chunks = [(featurizer, sources[i : i + size]) for i in range(0, len(sources), size)]
    ctx.progress(0.2, f"transforming {len(sources)} items in {len(chunks)} chunks", force=True)
    parts = ctx.map(transform, chunks)
    if sp.issparse(parts[0]):
        return sp.vstack(parts, format="csr")
    return np.vstack([np.asarray(p) for p in parts])


def _append(
    ctx: JobContext, project: Project, stored: FeatureBundle, new_ids: NDArray[np.int64]
) -> FeatureBundle | None:
    """Transform only ``new_ids`` with the stored featurizer and store the bundle with their rows added.

    None (nothing written) if one of them is gone by the time their texts or files are read.
    """
    with ctx.db.read() as s:
        rows = s.execute(
            select(Item.id, Item.text, Item.media_sha256, Item.created_at)
            .where(
                Item.project_id == project.id,
                Item.state != _STAGED,
                Item.id > int(stored.ids[-1]),
                Item.id <= int(new_ids[-1]),  # not those added since the ids were read
            )
            .order_by(Item.id)
        ).all()
    found = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
    if not np.array_equal(found, new_ids):  # one was deleted meanwhile: fit everything again
        return None
    ctx.progress(0.05, f"adding {len(rows)} items to the features of {len(stored.ids)}", force=True)
    part = _transform_all(ctx, project.modality, stored.featurizer, _sources(ctx, project, rows))
    ctx.check_cancelled()
    if part.shape[1] != stored.X.shape[1]:  # a featurizer must keep its output width
        raise InputError("the stored featurizer changed its number of features", field="featurizer")
    ctx.progress(0.9, "writing features", force=True)
    path = feature_path(ctx.settings, project.id, stored.key)
    return append_rows(path, stored, new_ids, part, _fingerprint(rows[-1]))


def _fit_all(ctx: JobContext, project: Project, featurizer: Any, key: str) -> FeatureBundle:
    """Fit the featurizer on the project's items, transform all of them, store a new generation."""
    with ctx.db.read() as s:
        rows = s.execute(
            select(Item.id, Item.text, Item.media_sha256, Item.created_at)
            .where(Item.project_id == project.id, Item.state != _STAGED)
            .order_by(Item.id)
        ).all()
    if not rows:
        raise InputError(f"project {project.id} has no items to featurize", field="project_id")
    ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
    ctx.progress(0.05, f"fitting the featurizer on {len(rows)} items", force=True)
    sources = _sources(ctx, project, rows)
    if project.modality == "text":
        featurizer.fit(sources)
    else:
        sample: list[Any]
        if project.modality == "image":
            sample = [_read_image(Path(p)) for p in sources[:FIT_SAMPLE_MEDIA]]
            shapes = {a.shape for a in sample}
            params = featurizer.get_params()
            if len(shapes) > 1 and "size" in params and params["size"] is None:
                featurizer.set_params(size=(64, 64))  # mixed sizes: compare images at one size
        else:
            rate = featurizer_samplerate(featurizer)
            sample = [_read_audio(Path(p), rate) for p in sources[:FIT_SAMPLE_MEDIA]]
        featurizer.fit(sample)
    X = _transform_all(ctx, project.modality, featurizer, sources)
    ctx.check_cancelled()
    bundle = FeatureBundle(
        ids=ids,
        X=X,
        featurizer=featurizer,
        key=key,
        generation=uuid.uuid4().hex,
        fitted_items=len(ids),
        last_item=_fingerprint(rows[-1]),
    )
    ctx.progress(0.9, "writing features", force=True)
    return save_base(feature_path(ctx.settings, project.id, key), bundle)


def featurize_job(ctx: JobContext) -> dict[str, Any]:
    """The ``featurize`` job: features for every item, then scores from the current model.

    New items appended to the stored features are scored by the current model
    (same feature space); features fitted again retrain it, or give a
    cold-start order when there is no model yet.
    """
    if ctx.project_id is None:
        raise InputError("a featurize job needs a project", field="project_id")
    with ctx.stage(0.0, 0.5):
        bundle, appended = featurize_items(ctx, ctx.project_id)
    from hitloop.services import scoring, training

    summary: dict[str, Any] = {
        "items": len(bundle.ids),
        "features": int(bundle.X.shape[1]),
        "key": bundle.key,
        "appended": appended,
    }
    with ctx.stage(0.5, 1.0):
        if appended is None and training.has_model(ctx.db, ctx.project_id):
            # New features make the old model's inputs meaningless: retrain on them.
            return {**summary, **training.train(ctx, ctx.project_id)}
        # Appended rows keep the feature space: the current model scores the new items, alone
        # when the strategy allows (scoring_added), else with the pool (rescore retrains only
        # if that model is of an older generation).
        return {**summary, **scoring.rescore(ctx, ctx.project_id, bundle, added=appended is not None)}
