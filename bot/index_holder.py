"""The index the bot serves, and reloading it without ever blocking or pausing questions.

A large folder (8 MB of articles or more, about 60,000 sentences) is indexed in a worker process
(index.build_worker): the build's allocations and garbage-collector passes never hold this process's
GIL, and its heap is not left here. A small one is indexed in a worker thread. The new
index replaces the old one in a single assignment, so a question is answered wholly from one index or
the other. A lock keeps two rebuilds from running side by side.
Every question holds a lease on the index it reads; a replaced index is closed (its file unmapped)
when its last lease ends. The index lives in its mapped file, not in Python objects, so neither a
reload nor a close gives the garbage collector anything large to walk or free.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from index import (
    Answer,
    Article,
    BuildFailed,
    BuildReport,
    ConversationAnswer,
    EmptyIndexError,
    SearchIndex,
    Skipped,
    UnknownArticle,
    article_bytes,
    ask_in_conversation,
    build_in_worker,
    build_index,
    printable,
)

if TYPE_CHECKING:
    from bot.vectors import VectorFiller

log = logging.getLogger(__name__)
T = TypeVar("T")

# A folder with at least this many bytes of articles is indexed in a worker process. Below it, starting that
# process (about 0.4 s of imports) costs more than the build's pauses in a thread here (a few ms).
WORKER_MIN_BYTES = 8_000_000
WORKER_NICE = 10


class ReloadInProgress(RuntimeError):
    """A rebuild is already running."""


@dataclass(frozen=True)
class ArticleChanges:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]


def diff_articles(before: Mapping[str, str], after: Mapping[str, str]) -> ArticleChanges:
    """Articles (by id, with their digests) added, removed, and changed (same id, different file bytes)."""
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
    in_step: str | None = None  # how many processes serve the new index (bot.reload_sync), when more than this one


class Leases:
    """Counts the questions reading one index; closes it once it is retired and the last one ends."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self._lock = threading.Lock()
        self._readers = 0
        self._retired = False

    def take(self) -> SearchIndex:
        with self._lock:
            self._readers += 1
        return self.index

    def take_unless_retired(self) -> SearchIndex | None:
        """As `take`, or None once it is retired (the holder serves a newer index by then)."""
        with self._lock:
            if self._retired:
                return None
            self._readers += 1
        return self.index

    def give_back(self) -> None:
        with self._lock:
            self._readers -= 1
            close = self._retired and self._readers == 0
        if close:
            self.index.close()

    def retire(self) -> None:
        """No new question will read it: close it now, or when the last reader gives it back."""
        with self._lock:
            self._retired = True
            close = self._readers == 0
        if close:
            self.index.close()

    @property
    def readers(self) -> int:
        return self._readers


def _built(folder: Path, serving: bool) -> tuple[SearchIndex, BuildReport]:
    """The index of `folder`: built (or mapped from the saved file) in a worker process when the folder is large.

    While an index serves, the worker runs at a lower priority: on a machine with as many busy processes
    as cores, a thread answering a question that waits for a CPU holds the GIL, and the event loop waits too.
    """
    if article_bytes(folder, WORKER_MIN_BYTES) >= WORKER_MIN_BYTES:
        return build_in_worker(folder, nice=WORKER_NICE if serving else 0)
    return build_index(folder)


def _rebuilt(folder: Path, old: SearchIndex) -> tuple[SearchIndex, BuildReport, ArticleChanges]:
    index, report = _built(folder, serving=True)
    # From the id and digest columns: an Article object per article (two tracked objects each) would
    # give the garbage collector a full pass to make, here, while the loop waits for the GIL.
    return index, report, diff_articles(old.article_digests(), index.article_digests())


class IndexHolder:
    """Holds the serving SearchIndex; `reload()` swaps in a fresh one."""

    def __init__(
        self, folder: Path, index: SearchIndex, report: BuildReport, vectors: VectorFiller | None = None
    ) -> None:
        self.folder = folder
        self.vectors = vectors  # sentence vectors for each index that serves (None: words only)
        self._serving = Leases(index)
        self.last_build = report
        self._lock = asyncio.Lock()

    @classmethod
    async def build(cls, folder: Path, vectors: VectorFiller | None = None) -> IndexHolder:
        """Build the first index off the event loop. Raises EmptyIndexError (its message says what to do).

        With `vectors`, the stored sentence vectors are attached at once and the rest filled in behind.
        """
        index, report = await asyncio.to_thread(_built, folder, False)
        holder = cls(folder, index, report, vectors)
        if vectors is not None:
            await vectors.attach(index, report, holder._serving)
        # One question now, so whatever answering does only the first time is not a member's wait. (It was
        # loading the passage budget's tokenizer, 0.6 s; the index file now stores the sentences' counts.)
        await asyncio.to_thread(index.ask, index.sentence(0), 1)
        return holder

    @property
    def index(self) -> SearchIndex:
        return self._serving.index

    @property
    def reloading(self) -> bool:
        return self._lock.locked()

    async def ask(self, question: str, k: int, article: Article | None = None) -> Answer:
        """Answer off the event loop, from the index serving when the answer starts (leased until answered)."""
        if article is None:
            return await asyncio.to_thread(self._leased, lambda index: index.ask(question, k))
        return await asyncio.to_thread(self._leased, lambda index: self._ask_one(index, article, question, k))

    async def articles(self) -> tuple[Article, ...]:
        """The serving index's articles, made off the event loop (an object each, tens of ms at 20,000)."""
        return await asyncio.to_thread(self._leased, lambda index: index.articles)

    async def ask_in_conversation(self, question: str, k: int, previous: str | None) -> ConversationAnswer:
        """Answer off the event loop, with `previous` as context when the question leans on it."""
        return await asyncio.to_thread(self._leased, lambda index: ask_in_conversation(index, question, k, previous))

    def _leased(self, read: Callable[[SearchIndex], T]) -> T:
        # Runs in a worker thread, the lease too: the last reader of a replaced index closes it, and
        # unmapping a file that was replaced frees its pages from the page cache (tens of ms at 1M
        # sentences), which must not hold up the event loop.
        while True:
            leases = self._serving
            index = leases.take_unless_retired()
            if index is not None:
                break
            # A reload swapped and retired this one since it was read: the next one serves already.
        try:
            return read(index)
        finally:
            leases.give_back()

    @staticmethod
    def _ask_one(index: SearchIndex, article: Article, question: str, k: int) -> Answer:
        # Runs in a worker thread. The serving index answers from the article's own sentences (postings and
        # vector rows), with the whole archive's IDF and confidence, so a score means the same as in /ask
        # without an article. One picked before a reload may be gone from the leased index: no passage then.
        try:
            return index.ask(question, k, article=article.id)
        except UnknownArticle:
            return Answer(question, ())

    async def reload(self) -> ReloadReport:
        """Rebuild from the folder and swap it in; on failure keep the old index and say why.

        Raises ReloadInProgress instead of queueing behind a running rebuild.
        """
        if self._lock.locked():
            raise ReloadInProgress
        async with self._lock:
            started = time.perf_counter()
            old = self._serving
            old.take()  # read while the articles are compared in the worker thread
            try:
                index, report, changes = await asyncio.to_thread(_rebuilt, self.folder, old.index)
            except EmptyIndexError as error:
                return self._kept(old.index, str(error), started)
            except BuildFailed as error:
                log.error("Rebuilding the index from %s failed: %s", printable(str(self.folder)), error)
                return self._kept(old.index, str(error), started)
            except Exception as error:
                # Whatever went wrong, the serving index stays; the traceback goes to the log.
                log.exception("Rebuilding the index from %s failed", printable(str(self.folder)))
                return self._kept(old.index, f"the rebuild failed ({type(error).__name__}: {error})", started)
            finally:
                old.give_back()
            serving = Leases(index)
            if self.vectors is not None:
                try:
                    await self.vectors.attach(index, report, serving)
                except Exception:  # the new index serves by words alone rather than not at all
                    log.exception("Attaching sentence vectors to the rebuilt index failed")
            self._serving = serving
            self.last_build = report
            await asyncio.to_thread(old.retire)  # its unmapping off the loop (see _leased)
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
