"""How long the event loop stalls while an index builds, and while the running bot reloads and answers.

    python bench/loop_lag.py [--articles 400] [--check] [--limit-ms 100] [--ratio 1.5] [--feeds-only]

About 10,000 sentences (400 generated articles). The loop is probed every 10 ms; a stall is how late
the probe woke, less the time the loop's thread spent waiting for a CPU (the machine's load, which no
program controls; Linux's schedstat), so what is left is the process's own doing: the GIL held by
another thread, a garbage-collection pass, blocking code on the loop. The raw figure is printed too.
Measured:
- a build in a worker thread (as the bot builds at start-up), inline and with 2 worker processes, from
  the files and then from the saved index;
- the running bot's reload (`IndexHolder.reload`) while a member asks every 10 ms, from the files and
  from the saved index: in a worker thread (as a folder this small is) and in a worker process (as one of
  8 MB of articles or more is);
- answers while a feed poll adds 50 articles (fetched from a local site served by another thread, parsed by
  trafilatura, written): in a worker process at low priority, as the bot polls, and in a worker thread, against
  answers while nothing else runs for as long, in the same run (each answer's wait: p50, p99, longest).
`--check` exits 1 when a stall (own) exceeds --limit-ms, or when answers' p99 wait during the bot's poll is over
--ratio times the p99 with nothing else running. These were tests once; they moved here because
a test must not depend on how fast or busy the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # testkit: the corpus and the probe

from bot import index_holder
from bot.index_holder import WORKER_MIN_BYTES, IndexHolder
from index import build_index
from testkit.corpus import write_corpus
from testkit.load_scenario import LagProbe
from testkit.web_site import FeedSite, Item

T = TypeVar("T")


async def probed(work: Awaitable[T]) -> tuple[T, LagProbe]:
    probe = LagProbe()
    probing = asyncio.create_task(probe.run())
    try:
        return await work, probe
    finally:
        probing.cancel()


async def measure(
    articles: int, feeds_only: bool = False
) -> tuple[list[tuple[str, float, float]], list[tuple[str, float, float, list[float]]]]:
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        seeds, cache = Path(scratch) / "seeds", Path(scratch) / "cache"
        os.environ["INDEX_CACHE_DIR"] = str(cache)
        write_corpus(seeds, articles=articles)
        if feeds_only:
            holder = await IndexHolder.build(seeds)
            return rows, await feed_polls(holder, Path(scratch))
        for workers in (1, 2):
            build = functools.partial(build_index, seeds, cache_dir=cache / str(workers), workers=workers)
            for source in ("files", "saved index"):
                _, probe = await probed(asyncio.to_thread(build))
                rows.append((f"build, {workers} worker(s), from the {source}", probe.worst_own, probe.worst))
        holder = await IndexHolder.build(seeds)
        for where, smallest in (("worker thread", WORKER_MIN_BYTES), ("worker process", 0)):
            # A folder this small is rebuilt in a worker thread; from 8 MB of articles, in a worker process.
            index_holder.WORKER_MIN_BYTES = smallest
            rows.extend(await _reloads(holder, cache, where))
        index_holder.WORKER_MIN_BYTES = WORKER_MIN_BYTES
        polls = await feed_polls(holder, Path(scratch))
    return rows, polls


async def _reloads(holder: IndexHolder, cache: Path, where: str) -> list[tuple[str, float, float]]:
    rows = []
    for saved in cache.glob("index-*.bin"):
        saved.unlink()  # the first reload rebuilds from the files, the second loads what it saved
    for source in ("files", "saved index"):
        stop = asyncio.Event()

        async def ask_meanwhile(stop: asyncio.Event = stop) -> None:
            while not stop.is_set():
                await holder.ask("Bako rime tuko?", 3)
                await asyncio.sleep(0.01)

        asker = asyncio.create_task(ask_meanwhile())
        report, probe = await probed(holder.reload())
        stop.set()
        await asker
        assert report.error is None, report.error
        rows.append((f"bot reload in a {where} while answering, from the {source}", probe.worst_own, probe.worst))
    return rows


# -- a feed poll adding 50 articles while members ask (issue 22: no answer waits more than without it)

POLLED_ARTICLES = 50


class SiteThread:
    """The feed site on an event loop of its own thread, as a remote site would be: serving its pages is not
    the bot's loop's work."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def start(self) -> FeedSite:
        site = asyncio.run_coroutine_threadsafe(FeedSite().start(), self.loop).result()
        items = [
            Item(
                f"story-{n}",
                f"Harbour story number {n}",
                paragraphs=tuple(
                    f"The council of the harbour town met on Tuesday evening, meeting {n}.{p}, to discuss the ferry "
                    "timetable, the fish market and the repairs to the quay that the storm had damaged last winter."
                    for p in range(8)
                ),
            )
            for n in range(POLLED_ARTICLES)
        ]
        self.loop.call_soon_threadsafe(lambda: site.publish(*items))
        return site

    def stop(self, site: FeedSite) -> None:
        asyncio.run_coroutine_threadsafe(site.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _answering(holder: IndexHolder, work: Awaitable[T]) -> tuple[T, LagProbe, list[float]]:
    """`work` while a member asks every 10 ms; the loop's stalls and each answer's wait."""
    stop = asyncio.Event()
    waits: list[float] = []

    async def ask_meanwhile() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await holder.ask("Bako rime tuko?", 3)
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    asker = asyncio.create_task(ask_meanwhile())
    try:
        result, probe = await probed(work)
    finally:
        stop.set()
        await asker
    return result, probe, waits


async def feed_polls(holder: IndexHolder, scratch: Path) -> list[tuple[str, float, float, list[float]]]:
    """Answers while nothing runs, and while a poll adds 50 articles in a worker process (as the bot polls) and
    in a worker thread (for comparison)."""
    from bot.feeds.poll import PollOptions, opened, owner_name, poll_due
    from bot.feeds.poller import poll_in_worker_process

    server = SiteThread()
    site = server.start()
    rows: list[tuple[str, float, float, list[float]]] = []
    try:
        seconds = 0.0
        for where, run_poll in (("worker process", poll_in_worker_process), ("worker thread", poll_due)):
            location = scratch / f"feeds-{where.replace(' ', '-')}.sqlite3"
            folder = scratch / f"feed-articles-{where.replace(' ', '-')}"  # not the served folder: same index
            folder.mkdir()
            with opened(location) as store:
                store.add(site.feed_url, None, 0.0)
            options = PollOptions(folder=folder, interval_seconds=1800.0, max_new=POLLED_ARTICLES, policy=site.policy)
            started = time.perf_counter()
            run, probe, waits = await _answering(
                holder,
                asyncio.to_thread(run_poll, location, owner_name(), options),  # type: ignore[arg-type]
            )
            seconds = max(seconds, time.perf_counter() - started)
            assert len(run.added) == POLLED_ARTICLES, run.reports
            rows.append(
                (f"a feed poll adding {POLLED_ARTICLES} articles in a {where}", probe.worst_own, probe.worst, waits)
            )
        _, probe, waits = await _answering(holder, asyncio.sleep(seconds))
        rows.insert(0, ("nothing else running (as long as the slower poll)", probe.worst_own, probe.worst, waits))
    finally:
        server.stop(site)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--check", action="store_true", help="exit 1 when a stall exceeds --limit-ms")
    parser.add_argument("--limit-ms", type=float, default=100.0)
    parser.add_argument(
        "--feeds-only", action="store_true", help="measure only the feed poll, against answers with nothing running"
    )
    parser.add_argument(
        "--ratio", type=float, default=1.5, help="--check: the poll's p99 answer wait over the idle one, at most"
    )
    args = parser.parse_args()
    rows, polls = asyncio.run(measure(args.articles, feeds_only=args.feeds_only))
    print("| what | longest stall, own (ms) | raw, with CPU waits (ms) |\n|---|---|---|")
    for name, own, raw in rows + [(name, own, raw) for name, own, raw, _ in polls]:
        print(f"| {name} | {own * 1000:.1f} | {raw * 1000:.1f} |")
    print(
        "\n| answers while | answers | p50 (ms) | p99 (ms) | longest (ms) | p99 / nothing else's |"
        "\n|---|---|---|---|---|---|"
    )
    idle_p99 = percentile(polls[0][3], 0.99)
    for name, _, _, waits in polls:
        p99 = percentile(waits, 0.99)
        print(
            f"| {name} | {len(waits)} | {percentile(waits, 0.5) * 1000:.2f} | {p99 * 1000:.2f} | "
            f"{max(waits) * 1000:.2f} | {p99 / idle_p99:.2f} |"
        )
    over = [name for name, own, _ in rows + [(n, o, r) for n, o, r, _ in polls] if own * 1000 > args.limit_ms]
    slower = percentile(polls[1][3], 0.99) / idle_p99 > args.ratio  # the bot's way: the worker process
    if args.check and (over or slower):
        if over:
            print(f"over {args.limit_ms:g} ms: {', '.join(over)}", file=sys.stderr)
        if slower:
            print(f"answers waited more than {args.ratio:g} times as long during the poll", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
