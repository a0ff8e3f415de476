"""One build at a time per saved index: a second build waits for the running one, then maps what it saved."""

from __future__ import annotations

import logging
import threading

from index import BuildReport, SearchIndex, build_index
from index.storage import store
from index.storage.bm25 import DEFAULT_PARAMS
from index.storage.build import _build
from index.storage.build_lock import build_lock, lock_path
from testkit.discord_harness import WAIT_SECONDS, seeds_folder


class Waiting(logging.Handler):
    """Set once a build logs that it waits for another."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "waiting for it, to map its result" in record.getMessage():
            self.seen.set()


def test_a_build_waits_for_the_one_running_and_maps_its_result(tmp_path):
    folder = seeds_folder(tmp_path)
    cache = tmp_path / "cache"
    saved = store.index_file(cache, folder)
    results: list[tuple[SearchIndex, BuildReport]] = []
    waiting = Waiting()
    logger = logging.getLogger("index.build")
    logger.addHandler(waiting)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with build_lock(saved):  # as another process building this index would hold it
            second = threading.Thread(target=lambda: results.append(build_index(folder, cache_dir=cache)))
            second.start()
            assert waiting.seen.wait(WAIT_SECONDS), "the second build did not wait for the lock"
            assert not results  # neither built nor mapped anything while it waits
            # The lock holder's build (the step inside the lock; taking it again here would wait for itself).
            first = _build(folder, DEFAULT_PARAMS, cache=saved, workers=1, progress=None)
            assert first.file is not None and first.from_cache is False
            first.file.close()
        second.join(WAIT_SECONDS)
    finally:
        logger.removeHandler(waiting)
        logger.setLevel(level)
    [(index, report)] = results
    try:
        assert report.from_cache is True  # mapped what the first one saved, not built again
        assert report.cache_file == saved and (report.articles, report.sentences) == (4, 45)
    finally:
        index.close()
    assert lock_path(saved) == saved.with_suffix(".lock")


def test_without_a_writable_cache_folder_the_build_goes_ahead_unlocked(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    index, report = build_index(seeds_folder(tmp_path), cache_dir=blocker / "cache")
    try:
        assert report.not_saved is not None and report.sentences == 45
    finally:
        index.close()
