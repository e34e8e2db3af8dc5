"""The feature store's files: a base plus one append-only chunk per addition, crash-safe, compacted.

These drive :mod:`hitloop.services.feature_store` directly on made-up
matrices (dense and sparse); the loop tests (test_feature_store.py) cover the
featurize job that calls it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import scipy.sparse as sp

from hitloop.services import feature_store
from hitloop.services.feature_store import FeatureBundle
from hitloop.settings import Settings

PROJECT = 7
KEY = "test-0123456789"


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    feature_store._cache.clear()
    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'unused.db'}")


def _rows(start: int, n: int, sparse: bool) -> Any:
    rng = np.random.default_rng(start)
    X = rng.random((n, 30)) * (rng.random((n, 30)) < 0.2)
    return sp.csr_matrix(X) if sparse else X


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if sp.issparse(X) else X)


def _base(settings: Settings, n: int, sparse: bool) -> tuple[Path, FeatureBundle]:
    path = feature_store.feature_path(settings, PROJECT, KEY)
    bundle = FeatureBundle(
        ids=np.arange(1, n + 1, dtype=np.int64),
        X=_rows(0, n, sparse),
        featurizer={"fitted": "on the first items"},
        key=KEY,
        generation="gen-1",
        fitted_items=n,
        last_item="item-n",
    )
    return path, feature_store.save_base(path, bundle)


def _append(path: Path, stored: FeatureBundle, n: int, sparse: bool) -> FeatureBundle:
    first = int(stored.ids[-1]) + 1
    ids = np.arange(first, first + n, dtype=np.int64)
    return feature_store.append_rows(path, stored, ids, _rows(first, n, sparse), f"item-{first + n - 1}")


def _files(path: Path) -> list[str]:
    return sorted(os.listdir(path.parent))


def _reread(settings: Settings) -> FeatureBundle:
    """What another process reads: no in-memory bundle."""
    feature_store._cache.clear()
    bundle = feature_store.load_features(settings, PROJECT, KEY)
    assert bundle is not None
    return bundle


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_an_append_writes_only_the_new_rows_in_a_chunk(store_settings: Settings, sparse: bool) -> None:
    path, stored = _base(store_settings, 2_000, sparse)
    base_stamp = feature_store._stamp(path)
    base_bytes = path.stat().st_size
    bundle = _append(path, stored, 5, sparse)

    assert feature_store._stamp(path) == base_stamp  # the base file was not rewritten
    chunk = path.parent / f"{KEY}.{stored.base}.000001.chunk.joblib"
    assert _files(path) == sorted([path.name, chunk.name])
    on_disk = joblib.load(chunk)
    assert on_disk["ids"].tolist() == [2001, 2002, 2003, 2004, 2005] and on_disk["X"].shape == (5, 30)
    assert on_disk["start"] == 2_000 and on_disk["last_item"] == "item-2005"
    assert chunk.stat().st_size * 50 < base_bytes  # 5 rows, not 2,005
    assert bundle.ids.tolist() == list(range(1, 2006)) and bundle.chunks == 1
    assert bundle.generation == "gen-1" and bundle.fitted_items == 2_000 and bundle.last_item == "item-2005"


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_reading_after_appends_gives_every_row_aligned_with_its_id(
    store_settings: Settings, sparse: bool
) -> None:
    path, bundle = _base(store_settings, 50, sparse)
    parts = [_dense(bundle.X)]
    for n in (3, 1, 7):
        first = int(bundle.ids[-1]) + 1
        bundle = _append(path, bundle, n, sparse)
        parts.append(_dense(_rows(first, n, sparse)))
    in_memory = feature_store.load_features(store_settings, PROJECT, KEY)
    assert in_memory is bundle  # this process's bundle, extended as it appended

    reread = _reread(store_settings)
    assert reread.ids.tolist() == list(range(1, 62)) and reread.chunks == 3
    assert sp.issparse(reread.X) == sparse and reread.X.dtype == bundle.X.dtype
    np.testing.assert_array_equal(_dense(reread.X), np.vstack(parts))
    np.testing.assert_array_equal(_dense(reread.X[reread.positions([52, 61])]), np.vstack(parts)[[51, 60]])
    assert (reread.generation, reread.fitted_items, reread.last_item) == ("gen-1", 50, "item-61")
    assert reread.featurizer == {"fitted": "on the first items"}


def test_a_reader_reads_only_the_chunks_it_has_not_seen(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, bundle = _base(store_settings, 40, sparse=True)
    seen = _reread(store_settings)  # a reader's cached bundle: the base alone
    cached = feature_store._cache[PROJECT]
    bundle = _append(path, _append(path, bundle, 2, True), 3, True)  # another process appends twice
    feature_store._cache[PROJECT] = cached
    loaded: list[str] = []
    real_load = joblib.load

    def counting_load(file: Any) -> Any:
        loaded.append(Path(file).name)
        return real_load(file)

    monkeypatch.setattr(feature_store.joblib, "load", counting_load)
    again = feature_store.load_features(store_settings, PROJECT, KEY)
    assert again is not None and again is not seen
    assert loaded == [f"{KEY}.{bundle.base}.00000{k}.chunk.joblib" for k in (1, 2)]  # not the base
    assert again.ids.tolist() == bundle.ids.tolist()
    np.testing.assert_array_equal(_dense(again.X), _dense(bundle.X))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_a_crash_before_the_rename_leaves_the_previous_store(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch, sparse: bool
) -> None:
    path, bundle = _base(store_settings, 30, sparse)
    bundle = _append(path, bundle, 2, sparse)
    before = _files(path)

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(feature_store.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        _append(path, bundle, 4, sparse)
    assert _files(path) == before  # no chunk, no temporary file left
    # This process and a fresh one both read the 32 rows stored before the crash.
    for reread in (feature_store.load_features(store_settings, PROJECT, KEY), _reread(store_settings)):
        assert reread is not None and reread.ids.tolist() == list(range(1, 33)) and reread.chunks == 1
        np.testing.assert_array_equal(_dense(reread.X), _dense(bundle.X))
    monkeypatch.undo()
    # The next append takes the number the failed one would have had.
    after = _append(path, _reread(store_settings), 4, sparse)
    assert after.chunks == 2 and _reread(store_settings).ids.tolist() == list(range(1, 37))


def test_a_crashed_compaction_leaves_the_previous_store(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feature_store, "MAX_CHUNKS", 1)
    path, bundle = _base(store_settings, 30, sparse=True)
    bundle = _append(path, bundle, 2, True)
    before = _files(path)
    real_replace = os.replace

    def crash(src: Any, dst: Any) -> None:
        raise OSError("killed")

    monkeypatch.setattr(feature_store.os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        _append(path, bundle, 1, True)  # the second chunk: a compaction into a new base
    monkeypatch.setattr(feature_store.os, "replace", real_replace)
    assert _files(path) == before
    reread = _reread(store_settings)
    assert reread.ids.tolist() == list(range(1, 33)) and reread.base == bundle.base


def test_compaction_past_max_chunks_writes_one_base_of_the_same_generation(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feature_store, "MAX_CHUNKS", 3)
    path, first = _base(store_settings, 20, sparse=False)
    bundle = first
    for _ in range(3):
        bundle = _append(path, bundle, 2, False)
    assert len(_files(path)) == 4 and bundle.chunks == 3
    whole = _dense(bundle.X)
    compacted = _append(path, bundle, 2, False)  # a fourth chunk would pass MAX_CHUNKS
    assert _files(path) == [path.name] and compacted.chunks == 0 and compacted.base != first.base
    reread = _reread(store_settings)
    assert reread.ids.tolist() == list(range(1, 29)) and reread.chunks == 0
    assert (reread.generation, reread.fitted_items) == ("gen-1", 20)
    np.testing.assert_array_equal(_dense(reread.X)[:26], whole)
    # Appends start again on the new base.
    nxt = _append(path, reread, 1, False)
    assert _files(path) == sorted([path.name, f"{KEY}.{compacted.base}.000001.chunk.joblib"])
    assert _reread(store_settings).ids.tolist() == nxt.ids.tolist()


def test_a_refit_replaces_the_base_and_its_chunks(store_settings: Settings) -> None:
    path, bundle = _base(store_settings, 20, sparse=True)
    bundle = _append(path, _append(path, bundle, 2, True), 2, True)
    refit = FeatureBundle(
        ids=np.arange(1, 25, dtype=np.int64),
        X=_rows(99, 24, True),
        featurizer={"fitted": "again"},
        key=KEY,
        generation="gen-2",
        fitted_items=24,
        last_item="item-24",
    )
    stored = feature_store.save_base(path, refit)
    assert _files(path) == [path.name]
    reread = _reread(store_settings)
    assert (reread.generation, reread.fitted_items, reread.chunks) == ("gen-2", 24, 0)
    np.testing.assert_array_equal(_dense(reread.X), _dense(refit.X))
    assert reread.base == stored.base != bundle.base


def test_chunks_of_a_replaced_base_and_after_a_gap_are_ignored(store_settings: Settings) -> None:
    path, bundle = _base(store_settings, 20, sparse=False)
    one = _append(path, bundle, 2, False)
    old_chunk = path.parent / f"{KEY}.{bundle.base}.000001.chunk.joblib"
    kept = path.parent / "kept-chunk"
    shutil.copy(old_chunk, kept)
    # A crash between a new base's rename and the deletion of the old chunks: they stay behind.
    stored = feature_store.save_base(path, one)
    shutil.copy(kept, old_chunk)
    kept.unlink()
    reread = _reread(store_settings)
    assert reread.ids.tolist() == list(range(1, 23)) and reread.base == stored.base
    # A chunk numbered 2 with no chunk 1 (never written by the store) is not read either.
    two = path.parent / f"{KEY}.{stored.base}.000002.chunk.joblib"
    joblib.dump({"ids": np.array([23]), "X": _rows(23, 1, False), "last_item": "x", "start": 22}, two)
    assert _reread(store_settings).ids.tolist() == list(range(1, 23))
    # The next compaction deletes every chunk that is not its own.
    feature_store.save_base(path, reread)
    assert _files(path) == [path.name]


def test_a_base_written_before_chunks_is_read_and_compacted_on_the_first_append(
    store_settings: Settings,
) -> None:
    path = feature_store.feature_path(store_settings, PROJECT, KEY)
    path.parent.mkdir(parents=True)
    X = _rows(0, 10, True)
    joblib.dump({"ids": np.arange(1, 11), "X": X, "featurizer": "old", "generation": "g0"}, path)
    old = _reread(store_settings)
    assert (old.base, old.chunks, old.fitted_items, old.last_item) == ("", 0, 10, "")
    bundle = _append(path, old, 2, True)
    assert _files(path) == [path.name] and bundle.base  # one base, now with an id
    reread = _reread(store_settings)
    assert reread.ids.tolist() == list(range(1, 13)) and reread.generation == "g0"
    np.testing.assert_array_equal(_dense(reread.X)[:10], _dense(X))


def test_appended_rows_must_follow_and_match_the_stored_ones(store_settings: Settings) -> None:
    path, bundle = _base(store_settings, 10, sparse=False)
    with pytest.raises(ValueError, match="must follow"):
        feature_store.append_rows(path, bundle, np.array([5], dtype=np.int64), _rows(5, 1, False), "x")
    with pytest.raises(ValueError, match="3 features, the stored ones 30"):
        feature_store.append_rows(path, bundle, np.array([11], dtype=np.int64), np.zeros((1, 3)), "x")
    assert _files(path) == [path.name]


def _buffer(X: Any) -> np.ndarray:
    return np.asarray(X.data)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_rows_added_in_memory_are_written_after_the_others_without_copying_them(
    store_settings: Settings, sparse: bool
) -> None:
    path, first = _base(store_settings, 200, sparse)
    second = _append(path, first, 3, sparse)
    third = _append(path, second, 2, sparse)
    # The three matrices are views of one set of arrays: an addition copied only its rows.
    assert np.shares_memory(_buffer(first.X), _buffer(third.X))
    assert np.shares_memory(_buffer(second.X), _buffer(third.X))
    np.testing.assert_array_equal(_dense(third.X)[:203], _dense(second.X))
    np.testing.assert_array_equal(_dense(third.X)[:200], _dense(first.X))

    # Adding to an older matrix again must not write over rows a newer one holds: it copies.
    other = FeatureBundle(**{**first.__dict__, "X": first.X})
    branch = feature_store.append_rows(
        path, other, np.array([201], dtype=np.int64), _rows(500, 1, sparse), "b"
    )
    assert not np.shares_memory(_buffer(branch.X), _buffer(third.X))
    np.testing.assert_array_equal(
        _dense(third.X)[200:], np.vstack([_dense(_rows(201, 3, sparse)), _dense(_rows(204, 2, sparse))])
    )
    np.testing.assert_array_equal(_dense(branch.X)[200:], _dense(_rows(500, 1, sparse)))
