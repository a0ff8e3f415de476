"""The vector store drops the rows of edited and removed articles once they outnumber the live ones."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import numpy as np
import pytest

from index.meaning import vectors
from index.meaning.vectors import VectorStore, remove_other_models

DIMENSION = 8


def unit_rows(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, DIMENSION)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def stored(store: VectorStore, key: str) -> np.ndarray:
    snapshot = store.snapshot()
    first, count = snapshot.articles[key]
    return snapshot.rows[first : first + count].astype(np.float32) * snapshot.scales[first : first + count, None]


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    store = VectorStore(tmp_path / "vectors", "model", DIMENSION)
    with store.writing():
        store.append([("old-a", unit_rows(5, 1)), ("live", unit_rows(3, 2)), ("old-b", unit_rows(4, 3))])
    return store


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.suffix in (".i8", ".f4", ".i4")}


def test_the_live_rows_are_kept_in_a_new_generation_and_the_old_files_deleted(store: VectorStore) -> None:
    before = stored(store, "live")
    with store.writing():
        assert store.compact({"live"}, min_rows=0) == 9
    snapshot = store.snapshot()
    assert snapshot.articles == {"live": (0, 3)} and snapshot.row_count == 3
    assert np.array_equal(stored(store, "live"), before)
    assert names(store.folder) == {"rows.1.i8", "scales.1.f4", "parts.1.i4"}
    # Appending goes on in the new generation, and another handle on the folder reads it.
    with store.writing():
        store.append([("new", unit_rows(2, 4))])
    other = VectorStore(store.folder, "model", DIMENSION)
    assert other.snapshot().articles == {"live": (0, 3), "new": (3, 2)}
    assert np.array_equal(stored(other, "live"), before)


def test_nothing_is_rewritten_while_the_dead_rows_are_fewer_than_the_live_ones_or_than_the_minimum(
    store: VectorStore,
) -> None:
    with store.writing():
        assert store.compact({"old-a", "live"}, min_rows=0) == 0  # 4 dead rows, 8 live
        assert store.compact({"live"}, min_rows=10) == 0  # 9 dead rows, fewer than 10
    assert names(store.folder) == {"rows.i8", "scales.f4", "parts.i4"}
    assert store.snapshot().row_count == 12


def test_a_snapshot_taken_before_still_reads_its_rows(store: VectorStore) -> None:
    old = store.snapshot()
    expected = old.rows[5:8].copy()
    with store.writing():
        store.compact({"live"}, min_rows=0)
    assert np.array_equal(old.rows[5:8], expected)  # the old files are unlinked, still mapped


def test_a_compaction_cut_short_before_the_catalog_leaves_the_store_as_it_was(store: VectorStore) -> None:
    for name in ("rows.1.i8", "scales.1.f4", "parts.1.i4"):  # written, but the catalog never switched
        (store.folder / name).write_bytes(b"\x00" * 24)
    with store.writing():
        pass
    assert names(store.folder) == {"rows.i8", "scales.f4", "parts.i4"}
    assert store.snapshot().row_count == 12


def test_old_files_a_crash_left_after_the_switch_are_deleted(store: VectorStore) -> None:
    kept = {name: (store.folder / name).read_bytes() for name in ("rows.i8", "scales.f4", "parts.i4")}
    with store.writing():
        store.compact({"live"}, min_rows=0)
    for name, data in kept.items():  # as if the process died before unlinking them
        (store.folder / name).write_bytes(data)
    with store.writing():
        pass
    assert names(store.folder) == {"rows.1.i8", "scales.1.f4", "parts.1.i4"}


def test_filling_compacts_the_store_of_an_archive_whose_articles_keep_changing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index import build_index
    from index.meaning.stage import fill
    from tests.helpers import write_articles

    monkeypatch.setattr(vectors, "COMPACT_MIN_ROWS", 0)
    store = VectorStore(tmp_path / "vectors", "model", DIMENSION)

    def embed(texts: list[str]) -> np.ndarray:
        return unit_rows(len(texts), len(texts))

    sizes = []
    for version in range(4):
        seeds = write_articles(tmp_path / "seeds", {"a.txt": f"The harbour reopened. Boats returned {version} times."})
        index, _ = build_index(seeds, use_cache=False)
        stage = index.attach_vectors(store, embed)
        fill(stage, index.embedding_texts, embed)
        assert stage.complete
        sizes.append(store.snapshot().row_count)
    # Each edit adds the article's 2 rows; once the dead rows outnumber the live ones, only the live stay.
    assert sizes == [2, 4, 2, 4]


def other_model(parent: Path, name: str, age_seconds: float) -> Path:
    """A store of another model beside the current one, last written `age_seconds` ago."""
    other = VectorStore(parent / name, name, DIMENSION)
    with other.writing():
        other.append([("a", unit_rows(2, 9))])
    then = time.time() - age_seconds
    for path in other.folder.iterdir():
        os.utime(path, (then, then))
    return other.folder


def test_another_models_vectors_are_deleted_once_a_day_old_unless_a_writer_holds_them(store: VectorStore) -> None:
    old = other_model(store.folder.parent, "old-model", 2 * vectors.STALE_MODEL_SECONDS)
    other_model(store.folder.parent, "recent-model", vectors.STALE_MODEL_SECONDS / 2)
    held = other_model(store.folder.parent, "held-model", 2 * vectors.STALE_MODEL_SECONDS)
    (store.folder.parent / "not-a-store").mkdir()
    fd = os.open(held / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a process of another version writing there
    try:
        assert remove_other_models(store.folder) == [old]
    finally:
        os.close(fd)
    assert sorted(p.name for p in store.folder.parent.iterdir()) == [
        "held-model",
        "not-a-store",
        "recent-model",
        store.folder.name,
    ]
    assert store.snapshot().row_count == 12  # the current model's own are untouched
    assert remove_other_models(store.folder) == [held]  # once let go


def test_filling_to_completion_deletes_an_old_models_vectors(tmp_path: Path) -> None:
    from index import build_index
    from index.meaning.stage import fill
    from tests.helpers import write_articles

    old = other_model(tmp_path / "vectors", "old-model", 2 * vectors.STALE_MODEL_SECONDS)
    seeds = write_articles(tmp_path / "seeds", {"a.txt": "The harbour reopened. Boats returned."})
    index, _ = build_index(seeds, use_cache=False)
    store = VectorStore(tmp_path / "vectors" / "model", "model", DIMENSION)
    stage = index.attach_vectors(store, lambda texts: unit_rows(len(texts), 1))
    fill(stage, index.embedding_texts, lambda texts: unit_rows(len(texts), 1))
    assert stage.complete and not old.exists()
