"""The index the bot serves, and reloading it without ever blocking or pausing questions.

Builds run in a worker thread; the new index replaces the old one in a single assignment, so a question
is answered wholly from one index or the other. A lock keeps two rebuilds from running side by side.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index import Answer, Article, BuildReport, EmptyIndexError, SearchIndex, Skipped, build_index, index_articles

log = logging.getLogger(__name__)

# Per-article indexes answer questions limited to one article; a few are kept for repeated use.
ARTICLE_INDEX_CACHE = 32


class ReloadInProgress(RuntimeError):
    """A rebuild is already running."""


@dataclass(frozen=True)
class ArticleChanges:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


def diff_articles(old: Sequence[Article], new: Sequence[Article]) -> ArticleChanges:
    """Articles (by id) added, removed, and changed (same id, different file bytes)."""
    before = {a.id: a.digest for a in old}
    after = {a.id: a.digest for a in new}
    return ArticleChanges(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(sorted(i for i in before.keys() & after.keys() if before[i] != after[i])),
    )


@dataclass(frozen=True)
class ReloadReport:
    """What a /reload did. `error` is set when the old index was kept."""

    changes: ArticleChanges
    articles: int
    sentences: int
    skipped: tuple[Skipped, ...]
    seconds: float
    error: str | None = None


class IndexHolder:
    """Holds the serving SearchIndex; `reload()` swaps in a fresh one."""

    def __init__(self, folder: Path, index: SearchIndex, report: BuildReport) -> None:
        self.folder = folder
        self._index = index
        self.last_build = report
        self._lock = asyncio.Lock()
        self._by_article: OrderedDict[str, SearchIndex] = OrderedDict()
        self._cache_lock = threading.Lock()  # the cache is used from worker threads

    @classmethod
    async def build(cls, folder: Path) -> IndexHolder:
        """Build the first index off the event loop. Raises EmptyIndexError (its message says what to do)."""
        index, report = await asyncio.to_thread(build_index, folder)
        # One question now loads what answering needs (the tokenizer behind passage budgets, about 0.6 s),
        # so the first member to ask is answered as fast as the rest.
        await asyncio.to_thread(index.ask, index.articles[0].sentences[0], 1)
        return cls(folder, index, report)

    @property
    def index(self) -> SearchIndex:
        return self._index

    @property
    def reloading(self) -> bool:
        return self._lock.locked()

    async def ask(self, question: str, k: int, article: Article | None = None) -> Answer:
        """Answer off the event loop, from the index serving at the time of the call."""
        index = self._index
        if article is None:
            return await asyncio.to_thread(index.ask, question, k)
        return await asyncio.to_thread(self._ask_one, index, article, question, k)

    def _ask_one(self, index: SearchIndex, article: Article, question: str, k: int) -> Answer:
        # Runs in a worker thread. The cache is keyed by digest, so a changed article is re-indexed.
        key = f"{article.digest}:{article.id}"
        with self._cache_lock:
            sub = self._by_article.get(key)
        if sub is None:
            sub = index_articles([article])
            with self._cache_lock:
                self._by_article[key] = sub
                while len(self._by_article) > ARTICLE_INDEX_CACHE:
                    self._by_article.popitem(last=False)
        return sub.ask(question, k)

    async def reload(self) -> ReloadReport:
        """Rebuild from the folder and swap it in; on failure keep the old index and say why.

        Raises ReloadInProgress instead of queueing behind a running rebuild.
        """
        if self._lock.locked():
            raise ReloadInProgress
        async with self._lock:
            started = time.perf_counter()
            old = self._index
            try:
                index, report = await asyncio.to_thread(build_index, self.folder)
            except EmptyIndexError as error:
                return self._kept(old, str(error), started)
            except Exception as error:
                # Whatever went wrong, the serving index stays; the traceback goes to the log.
                log.exception("Rebuilding the index from %s failed", self.folder)
                return self._kept(old, f"the rebuild failed ({type(error).__name__}: {error})", started)
            changes = diff_articles(old.articles, index.articles)
            self._index = index
            self.last_build = report
            return ReloadReport(
                changes=changes,
                articles=report.articles,
                sentences=report.sentences,
                skipped=report.skipped,
                seconds=time.perf_counter() - started,
            )

    def _kept(self, old: SearchIndex, reason: str, started: float) -> ReloadReport:
        return ReloadReport(
            changes=ArticleChanges((), (), ()),
            articles=len(old.articles),
            sentences=old.sentence_count,
            skipped=(),
            seconds=time.perf_counter() - started,
            error=reason,
        )
