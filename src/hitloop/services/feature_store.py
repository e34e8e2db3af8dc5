"""Stored features on disk: one base file per project and featurizer, plus append-only chunks.

Under ``data_dir/features/<project_id>/``:

- ``<key>.joblib``, the base: sorted item ids, their feature matrix, the fitted
  featurizer, its generation, how many items it was fitted on, the last row's
  item fingerprint, and the base's own id (new on every write of a base);
- ``<key>.<base id>.<seq>.chunk.joblib``, rows appended to that base, numbered
  from 1: their item ids and matrix rows, and how many rows came before them.

Every file is written to a temporary name (``.tmp-*``) and renamed, so a
reader sees a whole file or none. A base is written when the featurizer is
fitted (a new generation) or to compact a base and its chunks
(:data:`MAX_CHUNKS`, same generation); a chunk names its base, so the chunks
of a replaced base are ignored by readers, then deleted. Appending rows
writes only them: the cost of adding items does not grow with the project.
Each process keeps the last bundle of each project in memory and extends it
with chunks it has not read yet.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import uuid
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from hitloop.settings import Settings

__all__ = [
    "MAX_CHUNKS",
    "FeatureBundle",
    "append_rows",
    "dump_atomic",
    "feature_path",
    "load_features",
    "save_base",
]

#: Chunks a base may have; the append past it writes one base with every row instead.
MAX_CHUNKS = 32
_TRIES = 5


@dataclass(frozen=True)
class FeatureBundle:
    """Item ids (sorted), their features (one row each) and the featurizer that made them."""

    ids: NDArray[np.int64]
    X: Any
    featurizer: Any
    key: str
    #: Changes every time the featurizer is fitted again (a model is only valid for its
    #: generation); appending the rows of new items keeps it.
    generation: str
    #: How many items the featurizer was fitted on (rows appended since are not counted).
    fitted_items: int
    #: Fingerprint of the last row's item (see ``features._fingerprint``): SQLite gives a
    #: deleted highest id to the next item, so the same ids may no longer be the same items.
    last_item: str = ""
    #: The id of the base file the rows come from ("" for one written before chunks) and
    #: how many of its chunks they include.
    base: str = ""
    chunks: int = 0

    def positions(self, item_ids: Any) -> NDArray[np.intp]:
        """Row of each item id; every id must be present."""
        wanted = np.asarray(item_ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, wanted)
        pos = np.minimum(pos, len(self.ids) - 1)
        if len(wanted) and not np.array_equal(self.ids[pos], wanted):
            raise LookupError("some items have no features yet")
        return pos.astype(np.intp)


def feature_path(settings: Settings, project_id: int, key: str) -> Path:
    """The base file of the project's features made by the featurizer ``key``."""
    return settings.features_dir / str(project_id) / f"{key}.joblib"


def _chunk_name(key: str, base: str, seq: int) -> str:
    return f"{key}.{base}.{seq:06d}.chunk.joblib"


def _chunk_pattern(key: str) -> re.Pattern[str]:
    return re.compile(re.escape(key) + r"\.([0-9a-f]{32})\.([0-9]{6})\.chunk\.joblib")


def _chunk_files(path: Path, key: str) -> list[tuple[str, int, str]]:
    """(base id, number, file name) of every chunk of ``key`` in the folder, in order."""
    pattern = _chunk_pattern(key)
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found = [(m[1], int(m[2]), name) for name in names if (m := pattern.fullmatch(name))]
    return sorted(found)


@dataclass(frozen=True)
class _Cached:
    path: Path
    stamp: tuple[int, int, int]
    bundle: FeatureBundle


_cache: dict[int, _Cached] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple[int, int, int]:
    """What changes whenever the file is replaced: each write is a new file (new inode)."""
    st = path.stat()
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def _read_base(path: Path, key: str) -> FeatureBundle:
    stored = joblib.load(path)
    return FeatureBundle(
        ids=stored["ids"],
        X=stored["X"],
        featurizer=stored["featurizer"],
        key=key,
        generation=stored["generation"],
        # Bundles written before rows were appended were fitted on all their items.
        fitted_items=int(stored.get("fitted_items", len(stored["ids"]))),
        last_item=str(stored.get("last_item", "")),
        base=str(stored.get("base", "")),
    )


class _Spare:
    """A feature matrix's arrays with room after its last row, so rows can be added without a copy.

    The matrix is a view of the first ``rows`` rows. Only the newest matrix
    made from these arrays may grow them in place (it writes after its own
    last row, which no older view sees); any other gets a copy with room.
    """

    def __init__(self, X: Any, part: Any) -> None:
        """Arrays for ``X`` and ``part`` and room to spare, holding ``X``'s rows (see :meth:`start`)."""
        rows = X.shape[0] + part.shape[0]
        self.cols = X.shape[1]
        self.lock = threading.Lock()
        self.rows = 0
        self.nnz = 0
        if sp.issparse(X):
            nnz = X.nnz + part.nnz
            index = np.int64 if int(nnz * _ROOM) + 1 >= np.iinfo(np.int32).max else np.int32
            self.data = np.empty(int(nnz * _ROOM) + 1, dtype=X.dtype)
            self.indices: NDArray[Any] | None = np.empty(len(self.data), dtype=index)
            self.indptr: NDArray[Any] | None = np.zeros(int(rows * _ROOM) + 2, dtype=index)
        else:
            self.data = np.empty((int(rows * _ROOM) + 1, self.cols), dtype=X.dtype)
            self.indices = self.indptr = None
        self.view: weakref.ref[Any] | None = None

    def start(self, X: Any, part: Any) -> Any:
        """Copy ``X`` and ``part`` in: the matrix of both, now the newest view."""
        self._put(X)
        grown = self._put(part)
        self.view = weakref.ref(grown)
        return grown

    def _fits(self, part: Any) -> bool:
        rows = self.rows + int(part.shape[0])
        if self.indptr is None:
            return rows <= len(self.data)
        return rows + 1 <= len(self.indptr) and self.nnz + int(part.nnz) <= len(self.data)

    def _put(self, part: Any) -> Any:
        """Write ``part``'s rows after the last ones; the matrix of every row so far."""
        k = part.shape[0]
        if self.indptr is None:
            self.data[self.rows : self.rows + k] = part
            self.rows += k
            return self.data[: self.rows]
        assert self.indices is not None
        part = sp.csr_matrix(part)
        self.data[self.nnz : self.nnz + part.nnz] = part.data
        self.indices[self.nnz : self.nnz + part.nnz] = part.indices
        self.indptr[self.rows + 1 : self.rows + k + 1] = part.indptr[1:] + self.nnz
        self.rows += k
        self.nnz += part.nnz
        shape = (self.rows, self.cols)
        arrays = (self.data[: self.nnz], self.indices[: self.nnz], self.indptr[: self.rows + 1])
        return sp.csr_matrix(arrays, shape=shape, copy=False)

    def grow(self, X: Any, part: Any) -> Any | None:
        """``X`` with ``part`` below, in place if ``X`` is the newest view and there is room; else None."""
        with self.lock:
            if self.view is None or X is not self.view() or not self._fits(part):
                return None
            grown = self._put(part)
            self.view = weakref.ref(grown)
            return grown


# Room a matrix gets when rows are first added to it: a refit comes at 20% more items.
_ROOM = 1.25
_spares: dict[int, _Spare] = {}  # id of the newest view -> its arrays, while that view lives
_spares_lock = threading.Lock()


def _stacked(X: Any, part: Any) -> Any:
    """``X`` with the rows of ``part`` below (``part`` already of ``X``'s kind and dtype).

    The first addition copies ``X`` into arrays with room to spare; later
    ones write after the last row (amortized: only the new rows are copied).
    """
    with _spares_lock:
        spare = _spares.get(id(X))
    grown = spare.grow(X, part) if spare is not None else None
    if spare is None or grown is None:
        spare = _Spare(X, part)
        grown = spare.start(X, part)
    with _spares_lock:
        _spares[id(grown)] = spare
    weakref.finalize(grown, _forget_spare, id(grown))
    return grown


def _with_room(X: Any) -> Any:
    """``X`` copied into arrays with room for the rows of later additions."""
    return _stacked(X, X[:0])


def _forget_spare(key: int) -> None:
    with _spares_lock:
        _spares.pop(key, None)


def _with_chunk(bundle: FeatureBundle, chunk: dict[str, Any]) -> FeatureBundle | None:
    """``bundle`` extended by a chunk's rows; None if the chunk does not follow its last row."""
    ids = np.asarray(chunk["ids"], dtype=np.int64)
    if int(chunk["start"]) != len(bundle.ids) or not len(ids) or ids[0] <= bundle.ids[-1]:
        return None
    return replace(
        bundle,
        ids=np.concatenate([bundle.ids, ids]),
        X=_stacked(bundle.X, chunk["X"]),
        last_item=str(chunk["last_item"]),
        chunks=bundle.chunks + 1,
    )


def load_features(settings: Settings, project_id: int, key: str) -> FeatureBundle | None:
    """The stored bundle (base and chunks), or None if this featurizer has not run for the project.

    A base or chunk replaced or deleted while being read (a compaction in
    another process) makes the read start again.
    """
    path = feature_path(settings, project_id, key)
    for _ in range(_TRIES):
        try:
            stamp = _stamp(path)
        except FileNotFoundError:
            return None
        with _cache_lock:
            hit = _cache.get(project_id)
        try:
            if hit is not None and hit.path == path and hit.stamp == stamp:
                bundle = hit.bundle
            else:
                bundle = _read_base(path, key)
            for base, seq, name in _chunk_files(path, key):
                if base != bundle.base or seq <= bundle.chunks:
                    continue
                if seq != bundle.chunks + 1:
                    break  # a gap: only a whole run of chunks counts
                extended = _with_chunk(bundle, joblib.load(path.parent / name))
                if extended is None:
                    break
                bundle = extended
        except FileNotFoundError:
            continue  # replaced meanwhile: read again
        if _stamp_or_none(path) != stamp:
            continue
        with _cache_lock:
            _cache[project_id] = _Cached(path, stamp, bundle)
        return bundle
    raise RuntimeError(f"the features of project {project_id} kept changing while being read")


def _stamp_or_none(path: Path) -> tuple[int, int, int] | None:
    try:
        return _stamp(path)
    except FileNotFoundError:
        return None


def dump_atomic(path: Path, stored: Any) -> None:
    """joblib-dump ``stored`` to ``path`` through a temporary file and a rename (readers see all or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".joblib")
    os.close(fd)
    try:
        joblib.dump(stored, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_base(path: Path, bundle: FeatureBundle) -> FeatureBundle:
    """Store every row of ``bundle`` as a new base (no chunks); the bundle as stored.

    The chunks of the base it replaces are deleted after the rename: until
    then they name the old base, which no reader finds any more.
    """
    stored = replace(bundle, base=uuid.uuid4().hex, chunks=0)
    dump_atomic(
        path,
        {
            "ids": stored.ids,
            "X": stored.X,
            "featurizer": stored.featurizer,
            "generation": stored.generation,
            "fitted_items": stored.fitted_items,
            "last_item": stored.last_item,
            "base": stored.base,
        },
    )
    for base, _, name in _chunk_files(path, stored.key):
        if base != stored.base:
            (path.parent / name).unlink(missing_ok=True)
    # This process is the one likely to add rows next: the first addition then copies nothing.
    stored = replace(stored, X=_with_room(stored.X))
    with _cache_lock:
        _cache[int(path.parent.name)] = _Cached(path, _stamp(path), stored)
    return stored


def append_rows(
    path: Path, stored: FeatureBundle, ids: NDArray[np.int64], part: Any, last_item: str
) -> FeatureBundle:
    """``stored`` with rows for ``ids`` (after its last one) added: one new chunk file.

    Past :data:`MAX_CHUNKS` chunks, or on a base written before chunks, every
    row goes into a new base instead (compaction).
    """
    if sp.issparse(stored.X):
        part = sp.csr_matrix(part, dtype=stored.X.dtype)
    else:
        part = np.asarray(part, dtype=np.asarray(stored.X).dtype)
    if part.shape[1] != stored.X.shape[1]:
        raise ValueError(f"appended rows have {part.shape[1]} features, the stored ones {stored.X.shape[1]}")
    chunk = {"ids": ids, "X": part, "last_item": last_item, "start": len(stored.ids)}
    bundle = _with_chunk(stored, chunk)
    if bundle is None:
        raise ValueError("appended rows must follow the stored ones")
    if not stored.base or stored.chunks >= MAX_CHUNKS:
        return save_base(path, bundle)
    dump_atomic(path.parent / _chunk_name(stored.key, stored.base, bundle.chunks), chunk)
    with _cache_lock:
        _cache[int(path.parent.name)] = _Cached(path, _stamp(path), bundle)
    return bundle
