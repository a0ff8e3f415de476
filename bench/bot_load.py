"""The bot under load: first-response times and event-loop stalls (testkit/load_scenario.py).

    python bench/bot_load.py [--check]

1,000 questions (slash commands, DMs, mentions) from 200 users arrive over 8 s while 5 /reloads of
about 10,000 sentences run, through the offline harness (discord.py's own code, HTTP captured). Prints
the first-response times (Discord allows 3 s) and the loop's longest stall, raw and less the time the
loop's thread waited for a CPU. `--check` exits 1 past 3 s or 100 ms. tests/bot/test_hostile_load.py runs the
same scenario and asserts what the bot did, not how fast.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testkit.discord_harness import Harness
from testkit.load_scenario import first_response_seconds, run_load

FIRST_RESPONSE_LIMIT_S = 3.0
LOOP_STALL_LIMIT_MS = 100.0


async def measure() -> tuple[list[float], float, float, int]:
    with tempfile.TemporaryDirectory() as scratch, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("INDEX_CACHE_DIR", str(Path(scratch) / "cache"))
        async with Harness(monkeypatch) as harness:
            run = await run_load(Path(scratch), harness)
    return first_response_seconds(run), run.probe.worst_own, run.probe.worst, run.probe.samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 past the limits")
    args = parser.parse_args()
    firsts, own, raw, samples = asyncio.run(measure())
    print(
        f"first response: median {statistics.median(firsts):.3f} s, max {max(firsts):.3f} s "
        f"(limit {FIRST_RESPONSE_LIMIT_S:g} s); loop stall max {own * 1000:.1f} ms own, {raw * 1000:.1f} ms raw "
        f"(limit {LOOP_STALL_LIMIT_MS:g} ms own), {samples} probes"
    )
    if args.check and (max(firsts) > FIRST_RESPONSE_LIMIT_S or own * 1000 > LOOP_STALL_LIMIT_MS):
        print("over the limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
