"""Feeds: how soon a new entry is searchable, and what a poll costs when the feed has not changed.

    python bench/feeds.py [--articles 10000] [--check] [--limit-seconds 60] [--scratch DIR]

An archive of generated articles (testkit.corpus.write_corpus) is served as the bot serves it (IndexHolder with
sentence vectors, all filled first: the steady state). A local feed site (testkit.web_site.FeedSite, on
127.0.0.2) then publishes one entry, and the bot's path runs: the poll in its worker process (the feed, the
page, the article written), the reload, the new article's vectors, a question that finds it. A new entry
waits at most one poll interval for that poll (the poller wakes when a feed is due, and the jitter only
brings polls earlier), so it is searchable within one interval plus the time measured here; the target
is 60 s at 10,000 articles. Then the feed is polled again unchanged, and the requests it made are counted
(target: 1, a conditional request answered 304). `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # testkit: the corpus and the feed site

from bot.feeds.poll import PollOptions, opened, owner_name, poll_due
from bot.feeds.poller import poll_in_worker_process
from bot.index_holder import IndexHolder
from bot.vectors import VectorFiller
from testkit.corpus import write_corpus
from testkit.web_site import FeedSite, Item

QUESTION = "When does the lighthouse keeper of Carrow Point retire?"
PARAGRAPHS = (
    "The lighthouse keeper of Carrow Point will retire in September after forty-one years on the rock, "
    "the harbour board said on Tuesday.",
    "Her light was the last in the county to be kept by hand; it will be run from the mainland from October.",
)


async def measure(articles: int, scratch: Path) -> dict[str, float]:
    seeds, cache = scratch / f"seeds-{articles}", scratch / "cache"
    os.environ["INDEX_CACHE_DIR"] = str(cache)
    shutil.rmtree(seeds / "feeds", ignore_errors=True)  # an earlier run's feed article
    if not seeds.is_dir():  # a kept --scratch folder: its archive, saved index and vectors are reused
        started = time.perf_counter()
        write_corpus(seeds, articles=articles)
        print(f"wrote {articles:,} articles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    holder = await IndexHolder.build(seeds, VectorFiller())
    assert holder.vectors is not None
    await holder.vectors.wait()  # the archive's own vectors: filled before the measured part
    sentences = holder.index.sentence_count
    print(f"served {sentences:,} sentences with vectors in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    site = await FeedSite().start()
    try:
        location = scratch / "state.sqlite3"
        for suffix in ("", "-wal", "-shm"):  # an earlier run's feed list
            location.with_name(location.name + suffix).unlink(missing_ok=True)
        with opened(location) as store:
            store.add(site.feed_url, None, 0.0)
        options = PollOptions(folder=seeds, interval_seconds=1800.0, max_new=20, policy=site.policy)
        # Its text new at each run: a kept --scratch folder must not hold its vectors already.
        bulletin = f"It was bulletin number {time.time_ns()} of the harbour board."
        site.publish(Item("lighthouse", "Lighthouse keeper to retire", paragraphs=(*PARAGRAPHS, bulletin)))

        published = time.perf_counter()
        run = await asyncio.to_thread(poll_in_worker_process, location, owner_name(), options)
        polled = time.perf_counter()
        [article] = run.added
        report = await holder.reload()
        assert report.error is None and article.id in report.changes.added, report
        reloaded = time.perf_counter()
        await holder.vectors.wait()
        filled = time.perf_counter()
        answer = await holder.ask(QUESTION, 1)
        answered = time.perf_counter()
        assert answer.hits and answer.hits[0].article == article.id, answer
        progress = holder.vectors.progress()
        assert progress is not None and progress[0] == progress[1], progress

        before = len(site.requests)
        again = await asyncio.to_thread(poll_due, location, owner_name(), options, urls=[site.feed_url])
        unchanged_requests = len(site.requests) - before
        assert again.reports[0].requests == unchanged_requests
    finally:
        await site.stop()
        await holder.vectors.close()
    return {
        "sentences": sentences,
        "poll": polled - published,
        "reload": reloaded - polled,
        "vectors": filled - reloaded,
        "answer": answered - filled,
        "total": answered - published,
        "unchanged_requests": unchanged_requests,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--limit-seconds", type=float, default=60.0, help="the target for the poll's own work")
    parser.add_argument(
        "--scratch",
        help="a folder kept for the archive, its index and vectors, reused by the next run (default: a temporary one)",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        scratch = Path(args.scratch) if args.scratch else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        scratch.mkdir(parents=True, exist_ok=True)
        figures = asyncio.run(measure(args.articles, scratch))
    print(f"archive: {args.articles:,} articles, {figures['sentences']:,} sentences (vectors filled)")
    print("a new entry, from the poll that finds it to the first answer from it:")
    for name in ("poll", "reload", "vectors", "answer"):
        print(f"  {name:<8} {figures[name]:7.2f} s")
    print(f"  total    {figures['total']:7.2f} s (target: at most {args.limit_seconds:g} s after its poll is due)")
    print(f"requests for a feed that did not change: {figures['unchanged_requests']} (target: 1)")
    missed = figures["total"] > args.limit_seconds or figures["unchanged_requests"] != 1
    if args.check and missed:
        print("a target was missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
