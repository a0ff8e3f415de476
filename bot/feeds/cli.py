"""`qa-bot feed add|list|remove|poll`: the feeds, from a shell, in the same shared state as the bot's /feed.

`poll` polls what is due (or, with --now, every feed or those named) in this process, under the same leases
as running bots, and bumps the shared count that makes them reload: a cron job can poll for a bot.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.feeds.poll import PollOptions, inspect_feed, opened, owner_name, poll_due
from bot.feeds.store import FeedExists
from bot.questionlog.database import DATABASE_ERRORS, StateLocation, describe
from bot.questionlog.schema import SchemaTooNew
from index import FeedError, FetchError, UsageError, check_url, clean_text, emit, printable


def _settings(args: argparse.Namespace) -> tuple[Settings, StateLocation]:
    try:
        settings = load_settings(require_token=False)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    if settings.state_db is None:
        raise UsageError("feeds are kept in the shared state, which is off (STATE_DB=off): set STATE_DB")
    return settings, settings.state_db


def _store_error(error: BaseException, location: StateLocation) -> UsageError:
    # With the location: a PostgreSQL URL's secrets are cut out of the driver's message.
    return UsageError(f"the shared state (STATE_DB) cannot be used ({describe(error, location)}): check STATE_DB")


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def cmd_feed_add(args: argparse.Namespace) -> int:
    settings, location = _settings(args)
    try:
        url = check_url(args.url)
        feed = inspect_feed(url, settings.fetch_policy)
    except (FetchError, FeedError) as error:
        raise UsageError(str(error)) from None
    try:
        with opened(location) as store:
            store.add(url, feed.title, time.time())
    except FeedExists:
        raise UsageError(f"{printable(url)} is followed already: see qa-bot feed list") from None
    except (*DATABASE_ERRORS, SchemaTooNew) as error:
        raise _store_error(error, location) from None
    name = f"“{clean_text(feed.title)}”" if feed.title else printable(url)
    emit(
        f"Following {name} ({len(feed.entries):,} entries now). Its articles are added at the next poll: by the "
        "running bot within a minute, or now with qa-bot feed poll."
    )
    return 0


def cmd_feed_list(args: argparse.Namespace) -> int:
    _, location = _settings(args)
    try:
        with opened(location) as store:
            feeds = store.feeds()
    except (*DATABASE_ERRORS, SchemaTooNew) as error:
        raise _store_error(error, location) from None
    if not feeds:
        emit("No feed is followed: add one with qa-bot feed add URL.")
    for feed in feeds:
        emit(f"{printable(feed.url)}  “{clean_text(feed.title or '')}”, {feed.articles:,} articles")
        emit(f"    last poll {_when(feed.polled_at)}: {clean_text(feed.status or 'not polled yet')}")
        emit(f"    next poll {_when(feed.next_poll_at)}")
    return 0


def cmd_feed_remove(args: argparse.Namespace) -> int:
    _, location = _settings(args)
    try:
        with opened(location) as store:
            removed = store.remove(args.url)
    except (*DATABASE_ERRORS, SchemaTooNew) as error:
        raise _store_error(error, location) from None
    if removed is None:
        raise UsageError(f"{printable(args.url)} is not followed: see qa-bot feed list")
    emit(f"Stopped following {printable(removed.url)}; the {removed.articles:,} articles it brought stay.")
    return 0


def cmd_feed_poll(args: argparse.Namespace) -> int:
    settings, location = _settings(args)
    folder = Path(args.seeds) if args.seeds else settings.seeds_dir
    if not folder.is_dir():
        raise UsageError(f"the seeds folder {printable(str(folder))} does not exist: create it, or give --seeds DIR")
    options = PollOptions(
        folder=folder,
        interval_seconds=settings.feed_poll_minutes * 60,
        max_new=settings.feed_max_new,
        policy=settings.fetch_policy,
    )
    urls = None
    if args.now or args.url:
        try:
            with opened(location) as store:
                urls = args.url or [feed.url for feed in store.feeds()]
        except (*DATABASE_ERRORS, SchemaTooNew) as error:
            raise _store_error(error, location) from None
    try:
        run = poll_due(location, owner_name(), options, urls=urls)
    except (*DATABASE_ERRORS, SchemaTooNew) as error:
        raise _store_error(error, location) from None
    if not run.reports:
        emit("No feed is due (or each is being polled by a running bot); --now polls every feed.")
    for report in run.reports:
        emit(f"{printable(report.feed)}: {clean_text(report.status)}")
        for article in (*report.added, *report.updated):
            emit(f"  {printable(article.id)}: “{clean_text(article.title)}”, {clean_text(article.date or 'undated')}")
    if run.added:
        emit("Running bots sharing STATE_DB reload within a minute; otherwise /reload.")
    return 1 if any(report.failed for report in run.reports) else 0


def add_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    feed = commands.add_parser("feed", help="follow news feeds: add, list, remove, poll")
    actions = feed.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="follow a feed (RSS or Atom): its new articles are added as they appear")
    add.add_argument("url", help="the feed's address")
    add.set_defaults(run=cmd_feed_add)
    listing = actions.add_parser("list", help="the feeds followed, and how their last poll went")
    listing.set_defaults(run=cmd_feed_list)
    remove = actions.add_parser("remove", help="stop following a feed (its articles stay)")
    remove.add_argument("url", help="the feed's address, as qa-bot feed list shows it")
    remove.set_defaults(run=cmd_feed_remove)
    poll = actions.add_parser("poll", help="poll the feeds that are due (or --now, all) and add their new articles")
    poll.add_argument("--now", action="store_true", help="poll every feed now, due or not")
    poll.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    poll.add_argument("url", nargs="*", help="poll only these feeds, now")
    poll.set_defaults(run=cmd_feed_poll)
