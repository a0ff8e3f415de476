"""A build in a worker process: the same index as in-process, its progress and log records passed on,
and a worker that fails or is killed reported in one sentence."""

import logging
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest

import index.serving.build_worker
from index import EmptyIndexError, build_index
from index.serving.build_worker import BuildFailed, article_bytes, build_in_worker
from tests.helpers import build_worker_killed, write_articles, write_corpus

QUESTIONS = ("Bako rime tuko?", "Who sells gelo?", "Danime baba kotu?")


def _fail(messages: Any, *args: Any) -> None:
    # Stands in for the worker's body (pickled by name into the spawned process): a bug in the build.
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as error:
        messages.put(("failed", f"{type(error).__name__}: {error}", traceback.format_exc()))


def test_a_build_in_a_worker_equals_the_build_in_process_and_reports_its_progress(tmp_path: Path) -> None:
    folder = tmp_path / "seeds"
    write_corpus(folder, articles=30)
    (folder / "notes.bin.txt").write_bytes(b"\x00\x01\x02 not text")
    stages: list[tuple[str, int, int]] = []
    in_worker, report = build_in_worker(folder, cache_dir=tmp_path / "a", progress=lambda *s: stages.append(s))
    in_process, expected = build_index(folder, cache_dir=tmp_path / "b")
    try:
        for question in QUESTIONS:
            assert in_worker.search(question, 10) == in_process.search(question, 10)
        assert (report.articles, report.sentences, report.tokens) == (
            expected.articles,
            expected.sentences,
            expected.tokens,
        )
        assert report.skipped == expected.skipped and len(report.skipped) == 1
        assert report.from_cache is False and report.cache_file == expected.cache_file.parent.parent / "a" / (
            expected.cache_file.name
        )
        assert in_worker.article_digests() == in_process.article_digests()
    finally:
        in_worker.close()
        in_process.close()
    assert ("reading", 31, 31) in stages and stages[-1][0] == "indexing" and stages[-1][1] == stages[-1][2]
    again, second = build_in_worker(folder, cache_dir=tmp_path / "a")
    again.close()
    assert second.from_cache is True and second.sentences == report.sentences


def test_the_workers_log_records_reach_this_process(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = write_articles(tmp_path / "seeds", {"a.txt": "Bako rime tuko. Gelo sells.", "b.md": "\x00\x01 binary"})
    with caplog.at_level(logging.INFO):
        index_, _ = build_in_worker(folder, cache_dir=tmp_path / "cache")
    index_.close()
    seen = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert ("index.folder", logging.WARNING, "Skipped b.md: binary file, not text") in seen
    assert any(name == "index.build" and message.startswith("Indexed 2 sentences") for name, _, message in seen)


def test_an_index_that_cannot_be_saved_is_mapped_from_a_temporary_file_that_is_then_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "seeds"
    write_corpus(folder, articles=5)
    # A temp folder of the test's own: the system's is shared with whatever else builds on this machine.
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    built, report = build_in_worker(folder, use_cache=False)
    try:
        assert report.cache_file is None and report.sentences > 0
        assert built.search(QUESTIONS[0], 3)
    finally:
        built.close()
    assert list(private.iterdir()) == []


def test_a_folder_without_articles_says_what_to_do_as_the_build_in_process_does(tmp_path: Path) -> None:
    folder = write_articles(tmp_path / "seeds", {"a.md": "\x00\x01 binary"})
    with pytest.raises(EmptyIndexError) as in_process:
        build_index(folder, use_cache=False)
    with pytest.raises(EmptyIndexError) as in_worker:
        build_in_worker(folder, use_cache=False)
    assert str(in_worker.value) == str(in_process.value)


def test_a_killed_worker_is_reported_in_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "seeds"
    write_corpus(folder, articles=5)
    monkeypatch.setattr(index.serving.build_worker, "_work", build_worker_killed)
    with pytest.raises(BuildFailed) as failed:
        build_in_worker(folder, cache_dir=tmp_path / "cache")
    assert str(failed.value) == "the build's worker process was stopped by SIGKILL before it finished"


def test_a_worker_that_fails_is_reported_in_one_sentence_and_its_traceback_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "seeds"
    write_corpus(folder, articles=5)
    monkeypatch.setattr(index.serving.build_worker, "_work", _fail)
    with pytest.raises(BuildFailed) as failed:
        build_in_worker(folder, cache_dir=tmp_path / "cache")
    assert str(failed.value) == "the build failed (RuntimeError: disk on fire)"
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert 'raise RuntimeError("disk on fire")' in logged.getMessage()


def test_the_article_bytes_are_counted_until_enough(tmp_path: Path) -> None:
    write_articles(tmp_path, {"a.txt": "x" * 10, "news/b.md": "y" * 20, "c.json": "z" * 40, ".hidden/d.txt": "w" * 80})
    assert article_bytes(tmp_path, 1_000) == 30
    assert article_bytes(tmp_path, 5) in (10, 20)  # the walk stops at the first file that makes enough
