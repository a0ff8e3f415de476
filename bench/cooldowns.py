"""What a question's cooldown costs when it is kept in the shared state: `SharedCooldowns.take` awaited on the
event loop (a job on the log's thread, one upsert), in SQLite and, given a URL, PostgreSQL; and in memory.

    python bench/cooldowns.py [--calls 2000] [--postgres postgresql://…] [--check]

Members are drawn from 500, so most calls hit an existing row, about a third of them refused. The kinds
alternate call by call, in one run, so machine load hits them alike. Reports p50 and p90 per kind; `--check`
exits 1 when SQLite's p50 is over 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import PostgresURL  # noqa: E402
from bot.cooldowns import QuestionCooldowns, SharedCooldowns  # noqa: E402
from bot.questionlog.database import StateLocation  # noqa: E402
from bot.questionlog.service import QuestionLog  # noqa: E402

LIMIT_MS = 1.0
COOLDOWN_SECONDS = 5.0
MEMBERS = 500
WARM_UP = 50


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(locations: dict[str, StateLocation], calls: int) -> dict[str, list[float]]:
    clock = iter(range(10**9))  # each call a second after the one before: windows open and close
    now = [0.0]

    def tick() -> float:
        return now[0]

    kinds: dict[str, QuestionCooldowns | SharedCooldowns] = {"memory": QuestionCooldowns(COOLDOWN_SECONDS)}
    logs = []
    for name, location in locations.items():
        question_log = QuestionLog(location, 30, tick)
        await question_log.start()
        assert question_log.problem is None, question_log.problem
        logs.append(question_log)
        kinds[name] = SharedCooldowns(COOLDOWN_SECONDS, question_log, tick)
    chosen = random.Random(15)
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for n in range(calls + WARM_UP):
        now[0] = float(next(clock)) / 100  # 100 calls per simulated second
        member = chosen.randrange(MEMBERS)
        for name, cooldowns in kinds.items():
            started = time.perf_counter()
            if isinstance(cooldowns, QuestionCooldowns):
                cooldowns.take(member, now[0])
            else:
                await cooldowns.take(member)
            if n >= WARM_UP:
                times[name].append((time.perf_counter() - started) * 1000)
    for question_log in logs:
        await question_log.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--postgres", metavar="URL", help="also PostgreSQL, in this (scratch) database")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if SQLite's p50 is over {LIMIT_MS} ms")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        locations: dict[str, StateLocation] = {"sqlite": Path(folder) / "state.sqlite3"}
        if args.postgres:
            locations["postgresql"] = PostgresURL(args.postgres)
        times = asyncio.run(measure(locations, args.calls))
    for name, values in times.items():
        p50, p90 = percentile(values, 0.5), percentile(values, 0.9)
        print(f"{name:>10}: p50 {p50:.3f} ms, p90 {p90:.3f} ms ({len(values)} calls)")
    return 1 if args.check and percentile(times["sqlite"], 0.5) > LIMIT_MS else 0


if __name__ == "__main__":
    sys.exit(main())
