"""What the question log adds to the bot's answer path: 1,000 questions with the log on, 1,000 with it off.

    python bench/question_log.py [--questions 1000] [--seeds seeds] [--check]

Both bots share one index and run `QABot.answer` then `QABot.send_answer` (search in a worker thread, the
embed, and with the log on: the feedback buttons and queueing the record, which the log's thread writes to
SQLite meanwhile)
with a send that does nothing, so Discord's network time is left out. The two alternate question by
question, in one run, so machine load hits both alike. Reports the p50 and p90 of each and their
difference; `--check` exits 1 when the p50 difference is over 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.bot import QABot  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.index_holder import IndexHolder  # noqa: E402

LIMIT_MS = 1.0
WARM_UP = 50
GUILD_ID = 1_100_000_000_000_000_010


async def nothing(**message: object) -> None:
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(questions: list[str], count: int, seeds: Path, folder: Path) -> dict[str, list[float]]:
    holder = await IndexHolder.build(seeds)
    bots = {
        "off": QABot(Settings(token=None, seeds_dir=seeds, state_db=None), load_index=False),
        "on": QABot(Settings(token=None, seeds_dir=seeds, state_db=folder / "state.sqlite3"), load_index=False),
    }
    for bot in bots.values():
        bot._holder = holder
        await bot.question_log.start()
    times: dict[str, list[float]] = {"on": [], "off": []}
    for n in range(WARM_UP + count):
        question = questions[n % len(questions)]
        order = ("on", "off") if n % 2 else ("off", "on")
        for name in order:
            started = time.perf_counter()
            bot = bots[name]
            await bot.send_answer(nothing, await bot.answer(question, 3), guild_id=GUILD_ID)
            if n >= WARM_UP:
                times[name].append((time.perf_counter() - started) * 1000)
    await bots["on"].question_log.flush()
    logged = await bots["on"].question_log.stats(1, None)
    assert logged.questions == WARM_UP + count, f"logged {logged.questions} of {WARM_UP + count}"
    for bot in bots.values():
        await bot.question_log.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--seeds", default=str(REPO / "seeds"))
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the log adds over {LIMIT_MS} ms at p50")
    args = parser.parse_args()
    seed_questions = json.loads((REPO / "tests" / "data" / "seed_questions.json").read_text())["questions"]
    questions = [q["question"] for q in seed_questions]
    with tempfile.TemporaryDirectory() as folder:
        times = asyncio.run(measure(questions, args.questions, Path(args.seeds), Path(folder)))
    p50 = {name: statistics.median(values) for name, values in times.items()}
    p90 = {name: percentile(values, 0.9) for name, values in times.items()}
    added = p50["on"] - p50["off"]
    print(f"{args.questions:,} questions each, alternating, after {WARM_UP} to warm up:")
    for name in ("off", "on"):
        print(f"  log {name:>3}: p50 {p50[name]:.3f} ms, p90 {p90[name]:.3f} ms")
    print(f"  the log adds {added:+.3f} ms at p50 (on/off = {p50['on'] / p50['off']:.3f})")
    if args.check and added > LIMIT_MS:
        print(f"FAIL: over the {LIMIT_MS} ms budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
