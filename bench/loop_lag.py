"""How long the event loop stalls while an index builds, and while the running bot reloads and answers.

    python bench/loop_lag.py [--articles 400] [--check] [--limit-ms 100]

About 10,000 sentences (400 generated articles). The loop is probed every 10 ms; a stall is how late
the probe woke, less the time the loop's thread spent waiting for a CPU (the machine's load, which no
program controls; Linux's schedstat), so what is left is the process's own doing: the GIL held by
another thread, a garbage-collection pass, blocking code on the loop. The raw figure is printed too.
Measured:
- a build in a worker thread (as the bot builds at start-up), inline and with 2 worker processes, from
  the files and then from the saved index;
- the running bot's reload (`IndexHolder.reload`) while a member asks every 10 ms, from the files and
  from the saved index: in a worker thread (as a folder this small is) and in a worker process (as one of
  8 MB of articles or more is).
`--check` exits 1 when a stall (own) exceeds --limit-ms. These were tests once; they moved here because
a test must not depend on how fast or busy the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # testkit: the corpus and the probe

from bot import index_holder
from bot.index_holder import WORKER_MIN_BYTES, IndexHolder
from index import build_index
from testkit.corpus import write_corpus
from testkit.load_scenario import LagProbe

T = TypeVar("T")


async def probed(work: Awaitable[T]) -> tuple[T, LagProbe]:
    probe = LagProbe()
    probing = asyncio.create_task(probe.run())
    try:
        return await work, probe
    finally:
        probing.cancel()


async def measure(articles: int) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        seeds, cache = Path(scratch) / "seeds", Path(scratch) / "cache"
        os.environ["INDEX_CACHE_DIR"] = str(cache)
        write_corpus(seeds, articles=articles)
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
    return rows


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--check", action="store_true", help="exit 1 when a stall exceeds --limit-ms")
    parser.add_argument("--limit-ms", type=float, default=100.0)
    args = parser.parse_args()
    rows = asyncio.run(measure(args.articles))
    print("| what | longest stall, own (ms) | raw, with CPU waits (ms) |\n|---|---|---|")
    for name, own, raw in rows:
        print(f"| {name} | {own * 1000:.1f} | {raw * 1000:.1f} |")
    over = [name for name, own, _ in rows if own * 1000 > args.limit_ms]
    if args.check and over:
        print(f"over {args.limit_ms:g} ms: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
