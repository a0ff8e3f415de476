"""The feeds in the shared state (SQLite or PostgreSQL, as the question log): synchronous, on one connection.

Leases make one process poll a feed at a time, across processes and machines: taking one is a single
UPDATE of a feed that is due and not leased (or whose lease ran out), so of two processes asking at once one
gets it. The same SQL runs on both databases (see bot.questionlog.database).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.questionlog.database import StateDatabase

_FEED_COLUMNS = (
    "url, title, added_at, next_poll_at, etag, last_modified, backlog, polled_at, status, failures, articles,"
    " lease_owner, lease_until"
)


class FeedExists(ValueError):
    """The feed is followed already."""


@dataclass(frozen=True)
class FeedRow:
    url: str
    title: str | None
    added_at: float
    next_poll_at: float
    etag: str | None
    last_modified: str | None
    backlog: bool
    polled_at: float | None
    status: str | None
    failures: int
    articles: int
    lease_owner: str | None = None
    lease_until: float | None = None


@dataclass(frozen=True)
class ItemRow:
    link: str
    version: str
    state: str  # added, duplicate, failed, skipped
    article: str | None
    digest: str | None
    attempts: int


@dataclass(frozen=True)
class PollOutcome:
    """What a poll leaves for the next one."""

    etag: str | None
    last_modified: str | None
    backlog: bool
    status: str
    failed: bool
    added: int
    next_poll_at: float


def _feed(row: Sequence[Any]) -> FeedRow:
    values = list(row)
    values[6] = bool(values[6])  # backlog: an INTEGER in both databases
    return FeedRow(*values)


class FeedStore:
    def __init__(self, db: StateDatabase) -> None:
        self.db = db

    # -- the moderators' list

    def add(self, url: str, title: str | None, now: float) -> FeedRow:
        """Follow the feed at `url`, due at once. Raises FeedExists."""
        with self.db.transaction():
            row = self.db.execute(
                "INSERT INTO feeds (url, title, added_at, next_poll_at) VALUES (?, ?, ?, ?)"
                f" ON CONFLICT (url) DO NOTHING RETURNING {_FEED_COLUMNS}",
                (url, title, now, now),
            ).fetchone()
        if row is None:
            raise FeedExists(url)
        return _feed(row)

    def feeds(self) -> list[FeedRow]:
        return [_feed(row) for row in self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY added_at, url")]

    def feed(self, url: str) -> FeedRow | None:
        row = self.db.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ?", (url,)).fetchone()
        return None if row is None else _feed(row)

    def remove(self, url: str) -> FeedRow | None:
        """Stop following the feed; its articles stay. What it was, or None when it was not followed."""
        with self.db.transaction():
            row = self.db.execute(f"DELETE FROM feeds WHERE url = ? RETURNING {_FEED_COLUMNS}", (url,)).fetchone()
            self.db.execute("DELETE FROM feed_items WHERE feed_url = ?", (url,))
        return None if row is None else _feed(row)

    def due(self, now: float) -> int:
        """How many feeds are due and polled by nobody."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM feeds WHERE next_poll_at <= ? AND (lease_until IS NULL OR lease_until < ?)",
            (now, now),
        ).fetchone()
        return int(row[0])

    def next_due(self) -> float | None:
        """When the next feed is due (None: no feed), leased ones counted from their lease's end."""
        row = self.db.execute(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_poll_at THEN lease_until"
            " ELSE next_poll_at END) FROM feeds"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- leases

    def take_due(self, owner: str, now: float, lease_seconds: float) -> FeedRow | None:
        """Lease the feed due longest ago that nobody polls; None when none is due."""
        with self.db.transaction():
            row = self.db.execute(
                "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE url = ("
                " SELECT url FROM feeds WHERE next_poll_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
                " ORDER BY next_poll_at, url LIMIT 1"
                f") AND (lease_until IS NULL OR lease_until < ?) RETURNING {_FEED_COLUMNS}",
                (owner, now + lease_seconds, now, now, now),
            ).fetchone()
        return None if row is None else _feed(row)

    def take(self, url: str, owner: str, now: float, lease_seconds: float) -> FeedRow | None:
        """Lease `url` now, due or not (`qa-bot feed poll --now`); None when another process polls it."""
        with self.db.transaction():
            row = self.db.execute(
                "UPDATE feeds SET lease_owner = ?, lease_until = ? WHERE url = ?"
                f" AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?) RETURNING {_FEED_COLUMNS}",
                (owner, now + lease_seconds, url, now, owner),
            ).fetchone()
        return None if row is None else _feed(row)

    def renew(self, url: str, owner: str, until: float) -> bool:
        """Extend the lease while a long poll goes on; False when it was lost (it ran out and another took it)."""
        with self.db.transaction():
            done = self.db.execute(
                "UPDATE feeds SET lease_until = ? WHERE url = ? AND lease_owner = ?", (until, url, owner)
            )
        return done.rowcount == 1

    def finish(self, url: str, owner: str, now: float, outcome: PollOutcome) -> None:
        """Record the poll and give the lease back."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, backlog = ?, polled_at = ?, status = ?,"
                " failures = CASE WHEN ? = 1 THEN failures + 1 ELSE 0 END, articles = articles + ?,"
                " next_poll_at = ?, lease_owner = NULL, lease_until = NULL WHERE url = ? AND lease_owner = ?",
                (
                    outcome.etag,
                    outcome.last_modified,
                    int(outcome.backlog),
                    now,
                    outcome.status,
                    int(outcome.failed),
                    outcome.added,
                    outcome.next_poll_at,
                    url,
                    owner,
                ),
            )

    # -- entries

    def item(self, feed_url: str, link: str) -> ItemRow | None:
        row = self.db.execute(
            "SELECT link, version, state, article, digest, attempts FROM feed_items WHERE feed_url = ? AND link = ?",
            (feed_url, link),
        ).fetchone()
        return None if row is None else ItemRow(*row)

    def added_elsewhere(self, link: str, digest: str | None) -> bool:
        """Whether an article with this link, or these sentences, was added from any feed."""
        row = self.db.execute(
            "SELECT 1 FROM feed_items WHERE state = 'added' AND (link = ? OR digest = ?) LIMIT 1", (link, digest)
        ).fetchone()
        return row is not None

    def record(
        self,
        feed_url: str,
        link: str,
        version: str,
        state: str,
        now: float,
        *,
        article: str | None = None,
        digest: str | None = None,
        reason: str | None = None,
    ) -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO feed_items (feed_url, link, version, state, article, digest, attempts, reason, seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (feed_url, link) DO UPDATE SET"
                " version = excluded.version, state = excluded.state,"
                " article = COALESCE(excluded.article, feed_items.article),"
                " digest = COALESCE(excluded.digest, feed_items.digest),"
                " attempts = CASE WHEN excluded.state = 'failed' THEN feed_items.attempts + 1 ELSE 1 END,"
                " reason = excluded.reason, seen_at = excluded.seen_at",
                (feed_url, link, version, state, article, digest, reason, now),
            )

    # -- telling every process that articles were added

    def generation(self) -> int:
        row = self.db.execute("SELECT generation FROM feed_generation WHERE name = 'articles'").fetchone()
        return 0 if row is None else int(row[0])

    def bump_generation(self) -> int:
        with self.db.transaction():
            row = self.db.execute(
                "UPDATE feed_generation SET generation = generation + 1 WHERE name = 'articles' RETURNING generation"
            ).fetchone()
        return int(row[0])
