"""The index the bot serves, and reloading it without ever blocking or pausing questions.

Builds run in a worker thread; the new index replaces the old one in a single assignment, so a question
is answered wholly from one index or the other. A lock keeps two rebuilds from running side by side.
The replaced index is freed in a worker thread too, a slice at a time (see `release`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index import Answer, Article, BuildReport, EmptyIndexError, SearchIndex, Skipped, build_index, index_articles
from index.followup import ConversationAnswer, ask_in_conversation
from index.text import printable

if TYPE_CHECKING:
    from bot.vectors import VectorFiller

log = logging.getLogger(__name__)

# Per-article indexes answer questions limited to one article; a few are kept for repeated use.
ARTICLE_INDEX_CACHE = 32
# Freeing a replaced index: articles per slice (about 50 sentences each), and how long to wait for
# the questions that were being answered from it when it was replaced (they take milliseconds).
RELEASE_SLICE = 256
RELEASE_WAIT_S = 2.0


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


def keep_out_of_full_collections(*, collect: bool) -> None:
    """Exempt everything alive now from the garbage collector's full passes.

    A full pass walks every tracked object while holding the GIL, so with a large index in
    memory it stalls the event loop (110-150 ms measured under load). The index lives until
    the next reload, and freezing does not stop its objects from being freed then.
    `collect` first clears the garbage already made (itself a full pass: only at start-up). Without
    it, reference cycles that died in the oldest generation since its last pass are frozen too and
    never freed: a few objects per reload, against a pass that would stall the loop.
    """
    if collect:
        gc.collect()
    else:
        gc.collect(1)  # the young generations only: cheap, and keeps their garbage from being frozen
    gc.freeze()


def release(retired: list[SearchIndex]) -> None:
    """Free the index in `retired` (its only item) a slice of articles at a time; runs in a worker thread.

    Whoever drops the last reference to an index frees its million sentence strings in one C call
    that holds the GIL (about 150 ms at a million sentences, measured). Here that happens in slices,
    between which the event loop runs, once the questions still answering from it are done.
    """
    index = retired.pop()
    deadline = time.monotonic() + RELEASE_WAIT_S
    while sys.getrefcount(index) > 2 and time.monotonic() < deadline:  # 2: `index` and the call's argument
        time.sleep(0.01)
    articles = list(index.articles)
    del index
    while articles:
        del articles[-RELEASE_SLICE:]


def _rebuilt(folder: Path, old: SearchIndex) -> tuple[SearchIndex, BuildReport, ArticleChanges]:
    index, report = build_index(folder)
    return index, report, diff_articles(old.articles, index.articles)


class IndexHolder:
    """Holds the serving SearchIndex; `reload()` swaps in a fresh one."""

    def __init__(
        self, folder: Path, index: SearchIndex, report: BuildReport, vectors: VectorFiller | None = None
    ) -> None:
        self.folder = folder
        self.vectors = vectors  # sentence vectors for each index that serves (None: words only)
        self._index = index
        self.last_build = report
        self._lock = asyncio.Lock()
        self._by_article: OrderedDict[str, SearchIndex] = OrderedDict()
        self._cache_lock = threading.Lock()  # the cache is used from worker threads

    @classmethod
    async def build(cls, folder: Path, vectors: VectorFiller | None = None) -> IndexHolder:
        """Build the first index off the event loop. Raises EmptyIndexError (its message says what to do).

        With `vectors`, the stored sentence vectors are attached at once and the rest filled in behind.
        """
        index, report = await asyncio.to_thread(build_index, folder)
        if vectors is not None:
            await vectors.attach(index, report)
        # One question now loads what answering needs (the tokenizer behind passage budgets, about 0.6 s),
        # so the first member to ask is answered as fast as the rest.
        await asyncio.to_thread(index.ask, index.articles[0].sentences[0], 1)
        return cls(folder, index, report, vectors)

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

    async def ask_in_conversation(self, question: str, k: int, previous: str | None) -> ConversationAnswer:
        """Answer off the event loop, with `previous` as context when the question leans on it."""
        return await asyncio.to_thread(ask_in_conversation, self._index, question, k, previous)

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
                index, report, changes = await asyncio.to_thread(_rebuilt, self.folder, old)
            except EmptyIndexError as error:
                return self._kept(old, str(error), started)
            except Exception as error:
                # Whatever went wrong, the serving index stays; the traceback goes to the log.
                log.exception("Rebuilding the index from %s failed", printable(str(self.folder)))
                return self._kept(old, f"the rebuild failed ({type(error).__name__}: {error})", started)
            if self.vectors is not None:
                try:
                    await self.vectors.attach(index, report)
                except Exception:  # the new index serves by words alone rather than not at all
                    log.exception("Attaching sentence vectors to the rebuilt index failed")
            self._index = index
            self.last_build = report
            del index
            keep_out_of_full_collections(collect=False)
            retired = [old]
            del old  # from here only `retired` holds it, so it is not freed on the event loop
            await asyncio.to_thread(release, retired)
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
