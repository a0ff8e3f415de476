"""The saved index (round trip, rebuild on change, damage detection, atomic write, no pickle),
the build in a worker thread (the event loop keeps running), and the command line's cache flags."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from index import build_index
from index.storage import store
from index.storage.bm25 import Bm25Params
from index.storage.store import CACHE_ENV, MAGIC, cache_folder, index_file
from testkit.discord_harness import WAIT_SECONDS
from tests.helpers import write_corpus


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    write_corpus(folder, articles=12)
    return folder


def saved_file(cache: Path, seeds: Path) -> Path:
    return index_file(cache, seeds)


def test_the_second_build_reloads_the_saved_index_unchanged(seeds: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built, first = build_index(seeds, cache_dir=cache)
    loaded, second = build_index(seeds, cache_dir=cache)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.cache_file == saved_file(cache, seeds) and second.cache_file.is_file()
    assert loaded.articles == built.articles
    assert (second.articles, second.sentences, second.tokens) == (first.articles, first.sentences, first.tokens)
    assert loaded.bm25.vocabulary == built.bm25.vocabulary
    for name in ("idf", "indptr", "indices", "data"):
        assert np.array_equal(getattr(loaded.bm25, name), getattr(built.bm25, name))
    question = " ".join(built.articles[3].sentences[2].split()[:4])
    assert loaded.search(question, 5) == built.search(question, 5)


def test_the_saved_index_loads_without_pickle_or_np_load(
    seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_index(seeds, cache_dir=tmp_path)
    assert saved_file(tmp_path, seeds).read_bytes().startswith(MAGIC)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("loading the saved index must not unpickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    assert build_index(seeds, cache_dir=tmp_path)[1].from_cache


def test_a_changed_added_or_removed_article_triggers_a_rebuild(seeds: Path, tmp_path: Path) -> None:
    build_index(seeds, cache_dir=tmp_path)
    article = seeds / "article-0003.txt"
    article.write_text(article.read_text() + "\nThe zeppelin landed quietly.\n")
    index, report = build_index(seeds, cache_dir=tmp_path)
    assert not report.from_cache
    assert index.search("zeppelin", 1)[0].article == "article-0003.txt"
    assert build_index(seeds, cache_dir=tmp_path)[1].from_cache

    (seeds / "extra.md").write_text("A brand new article about a quokka.\n")
    index, report = build_index(seeds, cache_dir=tmp_path)
    assert (report.from_cache, report.articles) == (False, 13)
    (seeds / "extra.md").unlink()
    index, report = build_index(seeds, cache_dir=tmp_path)
    assert (report.from_cache, report.articles, index.search("quokka", 1)) == (False, 12, [])


def test_other_bm25_parameters_trigger_a_rebuild(seeds: Path, tmp_path: Path) -> None:
    build_index(seeds, cache_dir=tmp_path)
    assert not build_index(seeds, Bm25Params(k1=1.5, b=0.75), cache_dir=tmp_path)[1].from_cache


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_one_byte(path: Path) -> None:
    # A byte in the middle of the arrays, past the directory: only the checksum can tell.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def wrong_directory(path: Path) -> None:
    # A directory claiming a huge array must be refused before anything is allocated.
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"shape": [', b'"shape": [99999999999', 1))


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(5000))


def pickled_objects(path: Path) -> None:
    with path.open("wb") as file:
        np.save(file, np.array([{"format": 1}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize("damage", [truncate, flip_one_byte, wrong_directory, garbage, pickled_objects])
def test_a_damaged_saved_index_is_detected_and_rebuilt(
    seeds: Path, tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    built, _ = build_index(seeds, cache_dir=tmp_path)
    articles = [(a.id, a.digest, tuple(a.sentences)) for a in built.articles]
    data = built.bm25.data.copy()
    # Damaged in place, the file must not be read through a map any more (it would fault): the
    # bot never writes in place (a new file is renamed over the old one), this test does.
    built.close()
    path = saved_file(tmp_path, seeds)
    assert callable(damage)
    damage(path)
    with caplog.at_level(logging.WARNING, logger="index.build"):
        rebuilt, report = build_index(seeds, cache_dir=tmp_path)
    assert not report.from_cache
    assert "is damaged" in caplog.text
    assert [(a.id, a.digest, tuple(a.sentences)) for a in rebuilt.articles] == articles
    assert np.array_equal(rebuilt.bm25.data, data)
    assert build_index(seeds, cache_dir=tmp_path)[1].from_cache  # rewritten whole


def test_a_failed_write_leaves_the_previous_file_and_no_partial_one(
    seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    build_index(seeds, cache_dir=tmp_path)
    path = saved_file(tmp_path, seeds)
    before = path.read_bytes()

    real_write, calls = store.write, []

    def fail_midway(file: object, meta: object, columns: object) -> None:
        assert hasattr(file, "write")
        calls.append(file)
        if len(calls) == 1:  # the saved index; the temporary file served instead is written whole
            file.write(b"QABOTMAP half an index")
            raise OSError(28, "No space left on device")
        real_write(file, meta, columns)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "write", fail_midway)
    (seeds / "article-0000.txt").write_text("A changed article about a narwhal.\n")
    with caplog.at_level(logging.WARNING, logger="index.build"):
        index, report = build_index(seeds, cache_dir=tmp_path)
    assert index.search("narwhal", 1)[0].article == "article-0000.txt"  # the build itself succeeded
    assert report.not_saved == "No space left on device"
    assert "Could not save the index" in caplog.text
    assert path.read_bytes() == before
    files = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert files == [path.name, path.with_suffix(".lock").name]  # and the build lock (index.build_lock)


def test_an_unwritable_cache_folder_still_gives_an_index(seeds: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    _index, report = build_index(seeds, cache_dir=blocker / "cache")
    assert report.articles == 12 and not report.from_cache


def test_the_cache_folder_comes_from_the_argument_the_environment_or_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from-env"))
    assert cache_folder(tmp_path / "given") == tmp_path / "given"
    assert cache_folder() == tmp_path / "from-env"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "qa-bot"


def test_use_cache_false_neither_reads_nor_writes(seeds: Path, tmp_path: Path) -> None:
    _index, report = build_index(seeds, cache_dir=tmp_path / "cache", use_cache=False)
    assert report.cache_file is None and not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_cli_index_takes_the_cache_folder_flag(
    seeds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "unused"))
    cache = tmp_path / "flag"
    assert main(["index", "--seeds", str(seeds), "--cache-dir", str(cache)]) == 0
    assert main(["index", "--seeds", str(seeds), "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == [
        f"Saved index: {saved_file(cache, seeds)} (written).",
        "Sentence vectors (all-MiniLM-L6-v2): 261 of 261 sentences, 261 computed now.",
    ]
    assert out[4:6] == [
        f"Saved index: {saved_file(cache, seeds)} (reused: no article changed).",
        "Sentence vectors (all-MiniLM-L6-v2): 261 of 261 sentences, 0 computed now.",  # saved beside the index
    ]
    assert not (tmp_path / "unused").exists()
    assert main(["index", "--seeds", str(seeds), "--no-cache"]) == 0
    assert "Saved index" not in capsys.readouterr().out


@pytest.mark.slow
def test_workers_and_inline_builds_are_identical(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    write_corpus(seeds, articles=40)
    inline, _ = build_index(seeds, use_cache=False, workers=1)
    pooled, _ = build_index(seeds, use_cache=False, workers=2)
    assert pooled.articles == inline.articles
    assert pooled.bm25.vocabulary == inline.bm25.vocabulary
    assert np.array_equal(pooled.bm25.data, inline.bm25.data)


@pytest.mark.parametrize("workers", [1, 2])
async def test_the_event_loop_runs_while_an_index_builds(tmp_path: Path, workers: int) -> None:
    seeds = tmp_path / "seeds"
    write_corpus(seeds, articles=40)
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    reports: list[tuple[str, bool]] = []  # (stage, the build's thread is not the loop's)

    def progress(stage: str, done: int, total: int) -> None:
        # Each progress report waits for the event loop to run a callback: a build that held the loop
        # (or ran on it) would never get past the first report. How long the loop takes is not asserted
        # here (that depends on the machine): `bench/loop_lag.py --check` measures the stalls.
        ran = threading.Event()
        loop.call_soon_threadsafe(ran.set)
        assert ran.wait(WAIT_SECONDS)
        reports.append((stage, threading.get_ident() != loop_thread))

    build = functools.partial(build_index, seeds, cache_dir=tmp_path / "cache", workers=workers, progress=progress)
    _, report = await asyncio.to_thread(build)
    assert not report.from_cache
    assert {stage for stage, _ in reports} == {"reading", "indexing"}
    assert all(off_the_loop for _, off_the_loop in reports)
    reports.clear()
    _, report = await asyncio.to_thread(build)  # from the saved index
    assert report.from_cache
    assert reports == [("reading", True)]


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from index.articles.folder import SeedsFolder

    reads: list[str] = []
    real = SeedsFolder.read

    def counting(self: SeedsFolder, article_id: str) -> bytes | None:
        reads.append(article_id)
        return real(self, article_id)

    monkeypatch.setattr(SeedsFolder, "read", counting)
    return reads


def test_unchanged_files_are_not_read_again_once_settled(
    seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.storage.build

    monkeypatch.setattr(index.storage.build, "RACY_NS", 0)  # as if the files were written long before
    build_index(seeds, cache_dir=tmp_path)
    reads = count_reads(monkeypatch)
    assert build_index(seeds, cache_dir=tmp_path)[1].from_cache
    assert reads == []
    changed = seeds / "article-0005.txt"
    changed.write_text(changed.read_text().replace("Article 5", "Article five", 1))
    index, report = build_index(seeds, cache_dir=tmp_path)
    assert not report.from_cache
    assert reads.count("article-0005.txt") == 1 and len(reads) == 12  # the rebuild needs every file's text
    assert index.articles[5].title == "Article five"


def test_recently_changed_files_are_always_read(seeds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(seeds, cache_dir=tmp_path)
    reads = count_reads(monkeypatch)
    assert build_index(seeds, cache_dir=tmp_path)[1].from_cache
    assert len(reads) == 12  # written a moment ago: a same-tick change would not show in the stamp


def test_progress_is_a_bar_on_a_terminal_and_log_lines_elsewhere(caplog: pytest.LogCaptureFixture) -> None:
    import io

    from index.progress import BarProgress, LogProgress, terminal_or_log
    from tests.helpers import Terminal

    terminal = Terminal()
    bar = terminal_or_log(terminal)
    assert isinstance(bar, BarProgress)
    for done in range(0, 4):
        bar("reading", done, 3)
    for done in range(0, 6441, 1610):
        bar("indexing", done, 6440)
    bar("embedding", 330, 330)
    finished = [line for line in terminal.getvalue().replace("\r", "\n").splitlines() if "100%" in line]
    # Each counts what it says: files and sentences whole, bytes with their unit.
    assert [line.split("[")[0] for line in finished] == [
        "reading: 100%|##########| 3/3 files ",
        "indexing: 100%|##########| 6.44k/6.44kB ",
        "embedding: 100%|##########| 330/330 sentences ",
    ]
    assert isinstance(terminal_or_log(io.StringIO()), LogProgress)
    with caplog.at_level(logging.INFO, logger="index.build"):
        log_progress = LogProgress(every=3600)
        for done in range(0, 2001, 100):
            log_progress("reading", done, 2000)
        log_progress("indexing", 6_440_000, 6_440_000)
    assert [r.getMessage() for r in caplog.records] == [
        "reading: 0% (0 of 2,000 files)",
        "reading: 100% (2,000 of 2,000 files)",
        "indexing: 100% (6.4 MB of 6.4 MB)",
    ]
