"""One poll of the feeds that are due: synchronous, in a worker process of the bot (or in `qa-bot feed poll`).

For each feed it holds the lease of (bot.feeds.store): one conditional request for the feed (ETag,
Last-Modified; a 304 ends it there), then each new entry's page fetched (index.web) and added through the
same path as files (index.ingest), at most FEED_MAX_NEW per poll. An entry is known by its link (without
tracking parameters) and an article by a digest of its sentences, so the same story is added once, whichever
feed or link brings it. An entry the feed edits (its title, summary or update time) is fetched again and
its article replaced; an entry that leaves the feed keeps its article (feeds list only their latest items),
and one whose article a moderator removed is not added again. A page that fails is tried again at the next
two polls that see it, then skipped. The next poll is due after the poll interval, less a random 0-15%, so
that bots started together spread out and no entry waits more than one interval.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import random
import re
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.feeds.store import FeedRow, FeedStore, ItemRow, PollOutcome
from bot.questionlog.database import StateLocation
from bot.questionlog.schema import open_database
from index import (
    Added,
    AddressPolicy,
    ArticleExists,
    Feed,
    FeedEntry,
    FeedError,
    FetchError,
    FetchLimits,
    IngestError,
    Prepared,
    fetch_article,
    fetch_feed,
    printable,
    text_digest,
    write_article,
)

log = logging.getLogger(__name__)

FEEDS_FOLDER = "feeds"  # feed articles go to seeds/feeds/<the feed's host>/
LEASE_SECONDS = 600.0  # renewed after each article: a process that dies mid-poll holds a feed this long at most
MAX_ATTEMPTS = 3  # a page that fails this often is skipped
JITTER = 0.15  # the next poll comes up to this share of the interval early
MAX_BACKOFF = 8  # a failing feed waits up to this many intervals
FEEDS_PER_RUN = 100  # a run polls at most this many due feeds; the rest are due at the next
FEED_LIMITS = FetchLimits(max_bytes=10_000_000)  # a feed of a few hundred entries with their full text
PAGE_LIMITS = FetchLimits()


@dataclass(frozen=True)
class PollOptions:
    folder: Path  # the seeds folder
    interval_seconds: float
    max_new: int
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    feed_limits: FetchLimits = FEED_LIMITS
    page_limits: FetchLimits = PAGE_LIMITS
    lease_seconds: float = LEASE_SECONDS


@dataclass(frozen=True)
class NewArticle:
    id: str  # its path in the seeds folder
    title: str
    url: str | None
    date: str | None


@dataclass(frozen=True)
class FeedReport:
    feed: str
    title: str | None
    requests: int  # HTTP requests made: the feed's (redirect hops each count) and one per page
    added: tuple[NewArticle, ...]
    updated: tuple[NewArticle, ...]
    status: str  # one sentence, shown by /feed list
    failed: bool = False


@dataclass(frozen=True)
class PollRun:
    reports: tuple[FeedReport, ...]
    generation: int  # the shared count of polls that added articles, after this run

    @property
    def added(self) -> tuple[NewArticle, ...]:
        return tuple(a for r in self.reports for a in (*r.added, *r.updated))


def owner_name() -> str:
    """Who holds a lease: host, process and a nonce (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


def next_poll(now: float, interval: float, failures: int, rng: Callable[[], float]) -> float:
    wait = interval * min(2**failures, MAX_BACKOFF) if failures else interval
    return now + wait * (1 - JITTER * rng())


def host_folder(feed_url: str) -> str:
    """The folder a feed's articles go to, named after its host ("news.example.com" → news-example-com)."""
    from urllib.parse import urlsplit

    host = (urlsplit(feed_url).netloc or "feed").lower()
    return re.sub(r"[^a-z0-9]+", "-", host).strip("-")[:60] or "feed"


@contextlib.contextmanager
def opened(location: StateLocation) -> Iterator[FeedStore]:
    db = open_database(location)
    try:
        yield FeedStore(db)
    finally:
        db.close()


def inspect_feed(url: str, policy: AddressPolicy) -> Feed:
    """Fetch and read the feed at `url` once, to check it is one before following it. Raises FetchError or
    FeedError (one sentence each)."""
    feed = fetch_feed(url, policy=policy, limits=FEED_LIMITS).feed
    assert feed is not None  # not a conditional request: never "not modified"
    return feed


def poll_due(
    location: StateLocation,
    owner: str,
    options: PollOptions,
    *,
    urls: Sequence[str] | None = None,
    clock: Callable[[], float] = time.time,
    rng: Callable[[], float] = random.random,
) -> PollRun:
    """Poll every feed that is due and not polled elsewhere (or, with `urls`, those feeds now, due or not).

    Opens its own connection: it runs in a worker process (or thread) of its own.
    """
    reports: list[FeedReport] = []
    with opened(location) as store:
        pending = list(urls) if urls is not None else None
        while len(reports) < FEEDS_PER_RUN:
            now = clock()
            if pending is None:
                feed = store.take_due(owner, now, options.lease_seconds)
            else:
                feed = None
                while pending and feed is None:
                    feed = store.take(pending.pop(0), owner, now, options.lease_seconds)
            if feed is None:
                break
            reports.append(poll_feed(store, feed, owner, options, clock=clock, rng=rng))
        added = any(r.added or r.updated for r in reports)
        generation = store.bump_generation() if added else store.generation()
    return PollRun(tuple(reports), generation)


def poll_feed(
    store: FeedStore,
    feed: FeedRow,
    owner: str,
    options: PollOptions,
    *,
    clock: Callable[[], float] = time.time,
    rng: Callable[[], float] = random.random,
) -> FeedReport:
    """Poll one leased feed and give its lease back. Never raises for what a site sends."""
    conditional = not feed.backlog
    try:
        fetched = fetch_feed(
            feed.url,
            policy=options.policy,
            limits=options.feed_limits,
            etag=feed.etag if conditional else None,
            last_modified=feed.last_modified if conditional else None,
        )
    except (FetchError, FeedError) as error:
        log.warning("Feed %s: %s", printable(feed.url), error)
        status = f"The feed could not be read: {error}"
        return _finish(store, feed, owner, options, clock, rng, 1, status, failed=True)
    validators = (fetched.etag, fetched.last_modified)
    if fetched.feed is None:
        status = "Not changed since the last poll."
        return _finish(store, feed, owner, options, clock, rng, fetched.requests, status, validators=validators)
    run = _Entries(store, feed, owner, options, clock)
    backlog = run.add(fetched.feed)
    return _finish(
        store,
        feed,
        owner,
        options,
        clock,
        rng,
        fetched.requests + run.requests,
        run.status(fetched.feed),
        validators=validators,
        backlog=backlog,
        added=tuple(run.added),
        updated=tuple(run.updated),
        title=fetched.feed.title,
    )


def _finish(
    store: FeedStore,
    feed: FeedRow,
    owner: str,
    options: PollOptions,
    clock: Callable[[], float],
    rng: Callable[[], float],
    requests: int,
    status: str,
    *,
    failed: bool = False,
    validators: tuple[str | None, str | None] | None = None,
    backlog: bool = False,
    added: tuple[NewArticle, ...] = (),
    updated: tuple[NewArticle, ...] = (),
    title: str | None = None,
) -> FeedReport:
    now = clock()
    etag, last_modified = validators if validators is not None else (feed.etag, feed.last_modified)
    failures = feed.failures + 1 if failed else 0
    outcome = PollOutcome(
        etag=etag,
        last_modified=last_modified,
        backlog=backlog or (failed and feed.backlog),
        status=status,
        failed=failed,
        added=len(added),
        next_poll_at=next_poll(now, options.interval_seconds, failures, rng),
    )
    store.finish(feed.url, owner, now, outcome)
    return FeedReport(feed.url, title or feed.title, requests, added, updated, status, failed)


class _Entries:
    """Adding a feed's new entries, within the poll's budget."""

    def __init__(
        self, store: FeedStore, feed: FeedRow, owner: str, options: PollOptions, clock: Callable[[], float]
    ) -> None:
        self.store, self.feed, self.owner, self.options, self.clock = store, feed, owner, options, clock
        self.folder = options.folder / FEEDS_FOLDER / host_folder(feed.url)
        self.requests = 0
        self.added: list[NewArticle] = []
        self.updated: list[NewArticle] = []
        self.failed = 0
        self.duplicates = 0

    def add(self, parsed: Feed) -> bool:
        """Add what is new, newest first; True when entries were left for the next poll."""
        fetches = 0
        for entry in parsed.entries:
            known = self.store.item(self.feed.url, entry.link)
            if not self._wanted(entry, known):
                continue
            if len(self.added) >= self.options.max_new or fetches >= 2 * self.options.max_new:
                return True
            fetches += 1
            self._take(entry, known)
            if not self.store.renew(self.feed.url, self.owner, self.clock() + self.options.lease_seconds):
                log.warning("Feed %s: its lease ran out and another process took it", printable(self.feed.url))
                return True
        return False

    @staticmethod
    def _wanted(entry: FeedEntry, known: ItemRow | None) -> bool:
        if known is None:
            return True
        if known.state == "failed":
            return known.attempts < MAX_ATTEMPTS or known.version != entry.version
        return known.state == "added" and known.version != entry.version  # edited since it was added

    def _take(self, entry: FeedEntry, known: ItemRow | None) -> None:
        now = self.clock()
        self.requests += 1
        try:
            prepared = fetch_article(
                entry.link, policy=self.options.policy, limits=self.options.page_limits, fallback_date=entry.published
            )
        except (FetchError, IngestError) as error:
            self._failed(entry, known, str(error), now)
            return
        digest = text_digest(prepared)
        if known is not None and known.state == "added":
            self._edited(entry, known, prepared, digest, now)
            return
        if self.store.added_elsewhere(entry.link, digest):
            self.duplicates += 1
            self.store.record(self.feed.url, entry.link, entry.version, "duplicate", now, digest=digest)
            return
        try:
            added = self._write(prepared, entry.link)
        except IngestError as error:  # the folder cannot be written: tried again at the next poll
            self._failed(entry, known, str(error), now)
            return
        article_id = f"{FEEDS_FOLDER}/{host_folder(self.feed.url)}/{added.name}"
        self.store.record(self.feed.url, entry.link, entry.version, "added", now, article=article_id, digest=digest)
        self.added.append(NewArticle(article_id, added.title, added.url, added.date))

    def _write(self, prepared: Prepared, link: str) -> Added:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            return write_article(self.folder, prepared)
        except ArticleExists:
            # Another entry has the same title ("Live updates"): this one's name gets its link's digest.
            stem, dot, suffix = prepared.name.rpartition(".")
            unique = f"{stem}-{hashlib.sha256(link.encode()).hexdigest()[:8]}{dot}{suffix}"
            return write_article(self.folder, dataclasses.replace(prepared, name=unique), replace=True)

    def _edited(self, entry: FeedEntry, known: ItemRow, prepared: Prepared, digest: str, now: float) -> None:
        if digest != known.digest and known.article:
            name = known.article.rsplit("/", 1)[-1]
            if (self.folder / name).is_file():  # a moderator may have removed it: then it stays removed
                try:
                    written = write_article(self.folder, dataclasses.replace(prepared, name=name), replace=True)
                except IngestError as error:  # the folder cannot be written: the edit is tried again next poll
                    log.warning("Feed %s: %s: %s", printable(self.feed.url), printable(entry.link), error)
                    return
                self.updated.append(NewArticle(known.article, written.title, written.url, written.date))
        self.store.record(self.feed.url, entry.link, entry.version, "added", now, article=known.article, digest=digest)

    def _failed(self, entry: FeedEntry, known: ItemRow | None, reason: str, now: float) -> None:
        self.failed += 1
        attempts = (known.attempts if known is not None and known.state == "failed" else 0) + 1
        state = "skipped" if attempts >= MAX_ATTEMPTS else "failed"
        log.info("Feed %s: %s: %s", printable(self.feed.url), printable(entry.link), reason)
        self.store.record(self.feed.url, entry.link, entry.version, state, now, reason=reason)

    def status(self, parsed: Feed) -> str:
        parts = [f"{len(self.added)} new article{'' if len(self.added) == 1 else 's'} added"]
        if self.updated:
            parts.append(f"{len(self.updated)} updated")
        if self.duplicates:
            parts.append(f"{self.duplicates} already in the archive")
        if self.failed:
            parts.append(f"{self.failed} page{'' if self.failed == 1 else 's'} could not be used")
        return f"{', '.join(parts)} from {len(parsed.entries)} entries."
