"""The saved index file where it can go wrong: a path that is not UTF-8, a FIFO or a folder where the
file goes, a cache that cannot be written, temporary files left by a killed build, library upgrades."""

from __future__ import annotations

import importlib.metadata
import os
import threading
import unicodedata
from pathlib import Path

import pytest

from bot.cli import main
from index import build_index
from index.storage import store
from index.storage.bm25 import DEFAULT_PARAMS
from index.storage.build import SourceFiles, content_key
from tests.helpers import write_corpus


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    write_corpus(folder, articles=6)
    return folder


def test_a_seeds_path_that_is_not_utf8_is_indexed_and_saved(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/seeds-\xff\xfe"))
    write_corpus(folder, articles=3)
    _index, report = build_index(folder, cache_dir=tmp_path / "cache")
    assert report.articles == 3 and report.cache_file is not None and report.cache_file.is_file()
    assert report.not_saved is None
    assert build_index(folder, cache_dir=tmp_path / "cache")[1].from_cache


def _build_without_hanging(seeds: Path, cache: Path) -> store.Stamps | object:
    """build_index in a thread; a build blocked on a FIFO is released (and the test fails) after a minute."""
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(build_index(seeds, cache_dir=cache)), daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # unblock the open() waiting for a writer, so the suite can go on
        fd = os.open(store.index_file(cache, seeds), os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(10)
        pytest.fail("the build waited on a FIFO where the saved index goes")
    return found[0]


def test_a_fifo_where_the_saved_index_goes_is_replaced_not_waited_on(seeds: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    os.mkfifo(store.index_file(cache, seeds))
    _index, report = _build_without_hanging(seeds, cache)  # type: ignore[misc]
    assert report.articles == 6 and not report.from_cache and report.not_saved is None
    assert store.index_file(cache, seeds).is_file()  # the FIFO was replaced by a regular file


@pytest.mark.slow
def test_a_folder_where_the_saved_index_goes_is_reported_as_not_saved(
    seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    store.index_file(cache, seeds).mkdir(parents=True)
    assert main(["index", "--seeds", str(seeds), "--cache-dir", str(cache)]) == 0
    lines, saved = capsys.readouterr().out.splitlines(), store.index_file(cache, seeds)
    assert lines[-2] == f"Saved index: {saved} (not saved: Is a directory: {saved})."
    assert lines[-1].startswith("Sentence vectors (all-MiniLM-L6-v2): ")
    assert main(["ask", "--seeds", str(seeds), "--cache-dir", str(cache), "Bako rime tuko?"]) == 0


def test_a_cache_folder_that_is_a_file_is_reported_as_not_saved(
    seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    assert main(["index", "--seeds", str(seeds), "--cache-dir", str(blocker)]) == 0
    out = capsys.readouterr().out
    assert "(written)" not in out
    assert f"Saved index: {store.index_file(blocker, seeds)} (not saved: " in out
    assert blocker.read_text() == "a file where the cache folder should be"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_is_reported_as_not_saved(seeds: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o500)
    _index, report = build_index(seeds, cache_dir=cache)
    assert report.not_saved is not None and "Permission denied" in report.not_saved


def test_temporary_files_left_by_a_killed_build_are_removed_by_the_next_and_nothing_else(
    seeds: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    saved = store.index_file(cache, seeds)
    stale = [cache / f".{saved.name}.k1ll3d_x.tmp", cache / ".index-0123456789abcdef.bin.abcdefgh.tmp"]
    others = [
        cache / "notes.txt",
        cache / f".{saved.name}.tmp",  # not our naming: no random part
        cache / f"{saved.name}.abcdefgh.tmp",  # not hidden
        cache / ".index-0123456789abcdef.bin.abcdefgh.tmp.keep",
    ]
    for path in [*stale, *others]:
        path.write_bytes(b"x" * 100)
    in_use = cache / f".{saved.name}.wr1t1ng_.tmp"  # a build in another process is writing it
    in_use.write_bytes(b"x")
    with in_use.open("rb") as held:
        import fcntl

        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        _index, report = build_index(seeds, cache_dir=cache)
        assert report.not_saved is None
        assert in_use.exists()
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)
    expected = [saved.name, saved.with_suffix(".lock").name, in_use.name, *(p.name for p in others)]
    assert sorted(p.name for p in cache.iterdir()) == sorted(expected)  # the lock stays: see index.build_lock


def test_the_saved_index_key_changes_with_the_tokenizer_libraries_and_unicode_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = SourceFiles()
    files.add("a.txt", b"Some text.", "0" * 64, None)
    keys = {content_key(files, DEFAULT_PARAMS)}
    real_version = importlib.metadata.version
    from index.storage import build

    for package in ("blingfire", "PyStemmer"):
        with monkeypatch.context() as patch:
            patch.setattr(
                importlib.metadata,
                "version",
                lambda name, package=package: "9.9.9" if name == package else real_version(name),
            )
            build._library_versions.cache_clear()
            keys.add(content_key(files, DEFAULT_PARAMS))
    build._library_versions.cache_clear()
    monkeypatch.setattr(unicodedata, "unidata_version", "99.0.0")
    keys.add(content_key(files, DEFAULT_PARAMS))
    assert len(keys) == 4
