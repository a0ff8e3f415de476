"""A news feed's entries: RSS (0.9x, 1.0, 2.0) and Atom read by feedparser, each entry's link made comparable.

Pure: the bytes come from index.web, the entries go to whoever polls (bot/feeds). feedparser reads what
sites actually publish (wrong charsets, HTML in titles, relative links, RSS and Atom dialects, broken XML
it can recover from); its own fetching is never used, so every request goes through index.web's checks.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from index.articles.text import clean_text
from index.articles.web import FEED_TYPES, AddressPolicy, FetchLimits, fetch

MAX_ENTRIES = 500  # entries read from one feed document (feeds list their latest 10 to 100)
MAX_TITLE_CHARS = 300


class FeedError(ValueError):
    """The document is not a feed that can be read; the message is one sentence saying what to do."""


@dataclass(frozen=True)
class FeedEntry:
    link: str  # the article's page, normalised (see `normalise_link`)
    title: str | None
    published: str | None  # YYYY-MM-DD, as the feed gives it (the publisher's own metadata)
    version: str  # changes when the feed's entry changes (title, summary, update time): an edited article


@dataclass(frozen=True)
class Feed:
    title: str | None
    entries: tuple[FeedEntry, ...]  # newest first; entries without an http(s) link are left out


def normalise_link(url: str) -> str:
    """`url` as a key: host in lower case, no fragment, no tracking parameters (utm_*, fbclid, …), by courlan."""
    from courlan import normalize_url

    try:
        return str(normalize_url(url, strict=True))
    except ValueError:
        return url


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(clean_text(value).split())
    return text[:MAX_TITLE_CHARS] or None


def _day(parsed: Any) -> str | None:
    if not parsed:
        return None
    try:
        return time.strftime("%Y-%m-%d", parsed)
    except (TypeError, ValueError):
        return None


def _version(entry: Any) -> str:
    summary = entry.get("summary") or ""
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a deprecation warning.
    parts = [entry.get("title") or "", dict.get(entry, "updated") or entry.get("published") or "", summary[:4000]]
    return hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8", "replace")).hexdigest()[:32]


def parse_feed(body: bytes, url: str, content_type: str = "", charset: str | None = None) -> Feed:
    """The feed in `body` (fetched from `url`: relative links are resolved against it). Raises FeedError."""
    import feedparser  # imported here: only feeds need it

    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type + (f"; charset={charset}" if charset else "")
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):  # an empty, valid feed is a feed
        problem = parsed.get("bozo_exception")
        why = f" ({' '.join(str(problem).split())[:100]})" if problem else ""
        raise FeedError(
            f"That link is not an RSS or Atom feed{why}: give the feed's own address (sites link it as RSS or Feed)."
        )
    entries: list[tuple[int, FeedEntry, tuple[int, ...]]] = []
    seen: set[str] = set()
    for order, entry in enumerate(parsed.entries[:MAX_ENTRIES]):
        raw = entry.get("link") or next(
            (link.get("href") for link in entry.get("links", []) if link.get("rel") == "alternate"), None
        )
        if not isinstance(raw, str):
            continue
        link = urljoin(url, raw.strip())
        if urlsplit(link).scheme.lower() not in ("http", "https"):
            continue
        link = normalise_link(link)
        if link in seen:
            continue
        seen.add(link)
        stamp = entry.get("published_parsed") or dict.get(entry, "updated_parsed")
        item = FeedEntry(link, _text(entry.get("title")), _day(stamp), _version(entry))
        entries.append((order, item, tuple(stamp[:6]) if stamp else ()))
    # Newest first by the feed's own dates; entries without one keep the feed's order, after dated ones.
    dated = sorted((e for e in entries if e[2]), key=lambda e: (e[2], -e[0]), reverse=True)
    undated = [e for e in entries if not e[2]]
    return Feed(_text(parsed.feed.get("title")), tuple(e[1] for e in [*dated, *undated]))


FEED_LIMITS = FetchLimits(max_bytes=10_000_000)  # a feed of a few hundred entries with their full text


@dataclass(frozen=True)
class FeedFetch:
    """One (conditional) request for a feed: `feed` is None when the server said it has not changed (304)."""

    feed: Feed | None
    etag: str | None
    last_modified: str | None
    requests: int  # redirect hops each count


def fetch_feed(
    url: str,
    *,
    policy: AddressPolicy | None = None,
    limits: FetchLimits = FEED_LIMITS,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedFetch:
    """Fetch (index.articles.web's rules) and read the feed at `url`; with `etag` or `last_modified`, only if it
    changed. Raises FetchError or FeedError, one sentence each."""
    response = fetch(url, accept=FEED_TYPES, policy=policy, limits=limits, etag=etag, last_modified=last_modified)
    if response.status == 304:  # a 304 may carry new validators; else the old ones stand
        return FeedFetch(None, response.etag or etag, response.last_modified or last_modified, len(response.hops))
    feed = parse_feed(response.body, response.url, response.content_type, response.charset)
    return FeedFetch(feed, response.etag, response.last_modified, len(response.hops))
