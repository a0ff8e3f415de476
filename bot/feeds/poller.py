"""The bot's feed poller: every minute it looks whether a feed is due; when one is, a worker process polls it.

The poll itself (network, feedparser, trafilatura, writing files: bot.feeds.poll) runs in a process of its
own at low priority, started for the poll and gone after it, so neither its CPU work nor its memory is the
serving process's (bench/loop_lag.py measures a poll of 50 articles both ways). The quick reads and writes of
the feed list run on one thread of their own, never on the event loop. After a poll that added articles the
index is reloaded once (vectors are filled in behind it, as after /reload) and, with FEED_ANNOUNCE_CHANNEL, each
new article is announced. Every process of every machine sharing STATE_DB runs a poller; leases let one poll
each feed, and a count in the shared state tells the others to reload.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import discord

from bot.config import Settings
from bot.feeds.poll import NewArticle, PollOptions, PollRun, owner_name, poll_due
from bot.feeds.store import FeedStore
from bot.index_holder import ReloadInProgress, ReloadReport
from bot.questionlog.database import DATABASE_ERRORS, describe
from bot.questionlog.schema import open_database


class PollingBot(Protocol):
    """What the poller uses of the bot (a Protocol, not QABot: bot.bot imports this module)."""

    settings: Settings

    async def reload_index(self) -> ReloadReport: ...
    def get_channel(self, channel_id: int, /) -> Any: ...
    async def fetch_channel(self, channel_id: int, /) -> Any: ...


log = logging.getLogger(__name__)
T = TypeVar("T")

TICK_SECONDS = 60.0  # due feeds are looked for at least this often (feeds added elsewhere, leases that ran out)
RELOAD_RETRY_SECONDS = 1.0
RELOAD_RETRIES = 120  # a reload already running (a /reload, another process's) is waited for this many times
ANNOUNCED = 10  # articles announced one by one after a poll; the rest in one line
WORKER_NICE = 19  # where SCHED_IDLE is not available: the lowest priority
REPORT_EVERY_SECONDS = 3600.0


def _lower_priority() -> None:
    # A poll can wait, a question cannot: on Linux the poll runs only on CPU time nothing else wants
    # (SCHED_IDLE); elsewhere at the lowest priority.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)


def poll_in_worker_process(location: object, owner: str, options: PollOptions) -> PollRun:
    """poll_due in a fresh process (spawn: forking a process that runs an event loop and threads is unsafe)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_lower_priority) as pool:
        return pool.submit(poll_due, location, owner, options).result()  # type: ignore[arg-type]


class FeedPoller:
    def __init__(
        self,
        bot: PollingBot,
        *,
        run_poll: Callable[[object, str, PollOptions], PollRun] = poll_in_worker_process,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.location = bot.settings.state_db
        self.owner = owner_name()
        self.run_poll = run_poll  # tests poll in a thread
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._seen: int | None = None  # the shared count of polls that added articles, as this process last saw it
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="feeds")
        self._store: FeedStore | None = None
        self.runs = 0  # ticks done (tests wait for them)
        self._wait = TICK_SECONDS  # until the next tick
        self._closed = False
        self._reported: float | None = None  # time.monotonic() of the last report that the state is unavailable

    @property
    def enabled(self) -> bool:
        return self.location is not None

    def options(self) -> PollOptions:
        settings = self.bot.settings
        return PollOptions(
            folder=settings.seeds_dir,
            interval_seconds=settings.feed_poll_minutes * 60,
            max_new=settings.feed_max_new,
            policy=settings.fetch_policy,
        )

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="feed-poller")

    def wake(self) -> None:
        """Look for due feeds now (a feed was just added)."""
        self._wake.set()

    async def close(self) -> None:
        """Stop polling and close the connection (a poll in its worker process finishes on its own: its lease
        is given back or runs out). Closing twice is harmless."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_store)
        self._thread.shutdown(wait=False)

    async def call(self, job: Callable[[FeedStore], T]) -> T:
        """Run `job` on the feed list, on the poller's own thread. Raises one of DATABASE_ERRORS."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._with_store, job)

    def _with_store(self, job: Callable[[FeedStore], T]) -> T:
        if self._store is None:
            assert self.location is not None
            self._store = FeedStore(open_database(self.location))
        try:
            return job(self._store)
        except DATABASE_ERRORS:
            self._close_store()  # opened again next time
            raise

    def _close_store(self) -> None:
        if self._store is not None:
            with contextlib.suppress(*DATABASE_ERRORS):
                self._store.db.close()
            self._store = None

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except DATABASE_ERRORS as error:
                now = time.monotonic()
                if self._reported is None or now - self._reported >= REPORT_EVERY_SECONDS:
                    self._reported = now
                    log.warning(
                        "Feeds are not polled now: the shared state is unavailable (%s). "
                        "The next report of this comes in an hour at the earliest.",
                        describe(error, self.location),
                    )
            except Exception:
                log.exception("Polling feeds failed")
            self.runs += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._wait)
            self._wake.clear()

    async def tick(self) -> PollRun | None:
        """Poll what is due (in a worker), then reload if this or another process added articles."""
        now = self.clock()
        due, generation = await self.call(lambda store: (store.due(now), store.generation()))
        self._wait = TICK_SECONDS
        if self._seen is None:
            self._seen = generation  # the index was built from the folder as it is: nothing to catch up on
        run = None
        if due:
            loop = asyncio.get_running_loop()
            run = await loop.run_in_executor(None, self.run_poll, self.location, self.owner, self.options())
            for report in run.reports:
                log.info("Feed %s: %s", report.feed, report.status)
            generation = run.generation
        if generation != self._seen:
            self._seen = generation
            await self._reload()
        if run is not None and run.added:
            await self._announce(run.added)
        # The next look is when the next feed is due, if that is sooner than a tick: a poll starts on time, so
        # an entry waits at most one interval (plus the poll's own work) to be searchable.
        next_due = await self.call(lambda store: store.next_due())
        if next_due is not None:
            self._wait = min(TICK_SECONDS, max(0.0, next_due - self.clock()))
        return run

    async def _reload(self) -> None:
        for _ in range(RELOAD_RETRIES):
            try:
                report = await self.bot.reload_index()
            except ReloadInProgress:  # it may have read the folder before the new files: ours comes after it
                await asyncio.sleep(RELOAD_RETRY_SECONDS)
                continue
            if report.error:
                log.warning("Reloading after a feed poll failed, the previous index serves: %s", report.error)
            return
        log.warning("Reloading after a feed poll waited too long for another reload; /reload will pick it up")

    async def _announce(self, articles: Sequence[NewArticle]) -> None:
        channel_id = self.bot.settings.feed_announce_channel
        if channel_id is None:
            return
        from bot.formatting import new_articles_messages

        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError(f"channel {channel_id} is not a text channel")
            for message in new_articles_messages(articles, ANNOUNCED):
                await channel.send(message, allowed_mentions=discord.AllowedMentions.none())
        except (discord.HTTPException, TypeError) as error:
            log.warning("Could not announce new articles in FEED_ANNOUNCE_CHANNEL %s: %s", channel_id, error)
